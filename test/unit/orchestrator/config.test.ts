import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { durationMs, normalizeCommand, SOURCE_TYPES, SourceSchema } from '../../../src/orchestrator/config.js';
import { CONFIG_SCHEMA_DOC_PATH, configJsonSchema, configJsonSchemaText } from '../../../src/orchestrator/jsonSchema.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

test('docs/cairn.schema.json is what the zod schema generates today', () => {
  const committed = readFileSync(path.join(root, CONFIG_SCHEMA_DOC_PATH), 'utf8');
  assert.ok(committed === configJsonSchemaText(), 'docs/cairn.schema.json is stale: run node --import tsx scripts/gen-config-schema.mjs and commit it');
});

test('the JSON Schema offers every source type and requires the default repository', () => {
  const schema = configJsonSchema() as { $defs: Record<string, { properties: Record<string, { required?: string[] }> }> & { Source: { oneOf: Array<{ $ref: string }> } } };
  assert.deepEqual(
    schema.$defs.Source.oneOf.map((o) => o.$ref),
    ['FilesSource', 'PostgresSource', 'MysqlSource', 'MariadbSource', 'SqliteSource', 'RedisSource', 'CommandSource', 'PodmanSource', 'DockerSource'].map((id) => `#/$defs/${id}`),
  );
  assert.deepEqual(schema.$defs.CairnConfig!.properties.repositories!.required, ['default']);
});

test('SOURCE_TYPES lists exactly the types the schema accepts', () => {
  const accepted = SOURCE_TYPES.filter((type) => SourceSchema.safeParse({ type }).error?.issues.every((i) => i.path[0] !== 'type'));
  assert.deepEqual(accepted, [...SOURCE_TYPES]);
});

test('durations are seconds when numbers, and may combine units when strings', () => {
  assert.equal(durationMs(90), 90_000);
  assert.equal(durationMs('1h30m'), 5_400_000);
  assert.equal(durationMs('250ms'), 250);
  assert.equal(durationMs('2d'), 172_800_000);
  assert.equal(durationMs('1.5s'), 1500);
});

test('commands written as strings or mappings come out in one shape', () => {
  assert.deepEqual(normalizeCommand('systemctl stop app'), { run: 'systemctl stop app' });
  assert.deepEqual(normalizeCommand({ run: 'make dump', cwd: '/srv/app', env: { A: '1' }, timeout: '5m' }), { run: 'make dump', cwd: '/srv/app', env: { A: '1' }, timeoutMs: 300_000 });
});
