import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildComponentGraph } from '../../../src/orchestrator/componentGraph.js';
import { ConfigError } from '../../../src/orchestrator/configError.js';
import { CairnError } from '../../../src/errors.js';

// A diamond: app needs api and worker, both need db. `proxy` stands alone and
// is defined first, so ties show that config order decides.
const diamond = {
  proxy: {},
  app: { depends_on: ['api', 'worker'] },
  worker: { depends_on: ['db'] },
  api: { depends_on: ['db'] },
  db: {},
};

test('backup and recover walk dependencies first, ties in config order', () => {
  const g = buildComponentGraph(diamond);
  assert.deepEqual(g.backupOrder(), ['proxy', 'db', 'worker', 'api', 'app']);
  assert.deepEqual(g.recoverOrder(), ['proxy', 'db', 'worker', 'api', 'app']);
});

test('teardown is the reverse: dependents go before what they depend on', () => {
  const g = buildComponentGraph(diamond);
  assert.deepEqual(g.teardownOrder(), ['app', 'api', 'worker', 'db', 'proxy']);
});

test('orders restricted to some components keep the same relative order', () => {
  const g = buildComponentGraph(diamond);
  assert.deepEqual(g.backupOrder(['app', 'db']), ['db', 'app']);
  assert.deepEqual(g.teardownOrder(['db', 'app']), ['app', 'db']);
});

test('dependenciesOf and dependentsOf are transitive, in dependency order', () => {
  const g = buildComponentGraph(diamond);
  assert.deepEqual(g.dependenciesOf('app'), ['db', 'worker', 'api']);
  assert.deepEqual(g.dependenciesOf('db'), []);
  assert.deepEqual(g.dependentsOf('db'), ['worker', 'api', 'app']);
  assert.deepEqual(g.directDependencies('app'), ['api', 'worker']);
});

test('selecting a component does not add its dependencies but reports them', () => {
  const g = buildComponentGraph(diamond);
  const s = g.select(['app', 'api']);
  assert.deepEqual(s.components, ['api', 'app']);
  assert.deepEqual(s.unselectedDependencies, [
    { component: 'api', missing: ['db'] },
    { component: 'app', missing: ['db', 'worker'] },
  ]);
  assert.deepEqual(s.unselectedDependents, []);
});

test('selecting a database reports the components that depend on it', () => {
  const g = buildComponentGraph(diamond);
  const s = g.select(['db']);
  assert.deepEqual(s.components, ['db']);
  assert.deepEqual(s.unselectedDependencies, []);
  assert.deepEqual(s.unselectedDependents, [{ component: 'db', missing: ['worker', 'api', 'app'] }]);
});

test('selecting nothing selects every component', () => {
  const g = buildComponentGraph(diamond);
  assert.deepEqual(g.select([]).components, ['proxy', 'db', 'worker', 'api', 'app']);
  assert.deepEqual(g.select().unselectedDependencies, []);
});

test('selecting an unknown component lists the valid ones and the near miss', () => {
  const g = buildComponentGraph(diamond);
  assert.throws(
    () => g.select(['wroker']),
    (err: unknown) =>
      err instanceof CairnError &&
      err.code === 'config' &&
      err.message === 'unknown component "wroker"' &&
      err.remedy === 'Did you mean "worker"? Components: proxy, app, worker, api, db.',
  );
});

test('an unknown dependency names the component, the entry and the near miss', () => {
  assert.throws(
    () => buildComponentGraph({ db: {}, web: { depends_on: ['db', 'dbb'] } }),
    (err: unknown) =>
      err instanceof ConfigError &&
      err.message === 'components.web.depends_on[1]: component "web" depends on "dbb", which is not defined' &&
      err.remedy === 'Did you mean "db"? Defined components: db, web.',
  );
});

test('a cycle is named in order, starting at the component defined first', () => {
  assert.throws(
    () => buildComponentGraph({ db: {}, web: { depends_on: ['api'] }, cache: { depends_on: ['web'] }, api: { depends_on: ['db', 'cache'] } }),
    (err: unknown) =>
      err instanceof ConfigError &&
      err.message === 'components.web.depends_on[0]: dependency cycle: web → api → cache → web (each depends on the next)' &&
      err.remedy ===
        'Break the cycle by removing one of these depends_on entries: components.web.depends_on[0] (api), components.api.depends_on[1] (cache), components.cache.depends_on[0] (web).',
  );
});

test('a component depending on itself is a cycle of one', () => {
  assert.throws(() => buildComponentGraph({ a: { depends_on: ['a'] } }), /dependency cycle: a → a/);
});
