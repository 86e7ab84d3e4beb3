// FilesSource on real directories and files. Items are kept in a plain
// directory (test/helpers/storedContentDir.ts), not a repository.
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CairnError } from '../../../src/errors.js';
import { FilesSource } from '../../../src/sources/files.js';
import { DirStoredContent } from '../../helpers/storedContentDir.js';

let work: string;
let n = 0;
const scratch = (): string => path.join(work, `store-${++n}`);

before(() => {
  work = mkdtempSync(path.join(tmpdir(), 'cairn-filessrc-'));
  mkdirSync(path.join(work, 'live', 'config', 'sub'), { recursive: true });
  writeFileSync(path.join(work, 'live', 'config', 'a.yaml'), 'a: 1\n');
  writeFileSync(path.join(work, 'live', 'config', 'sub', 'b.txt'), 'bee');
  writeFileSync(path.join(work, 'live', 'app.env'), 'SECRET=x\n', { mode: 0o600 });
});

after(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('FilesSource', () => {
  const make = (): FilesSource =>
    new FilesSource({ paths: [{ path: path.join(work, 'live', 'config'), excludes: ['*.tmp'] }, path.join(work, 'live', 'app.env')] });

  test('a directory becomes a tree item and a file a one-file item, named by base name', async () => {
    const items = await make().items();
    assert.deepEqual(
      items.map((i) => [i.type, i.name]),
      [['tree', 'config'], ['stream', 'app.env']],
    );
    const tree = items[0]!;
    assert.ok(tree.type === 'tree' && tree.excludes?.includes('*.tmp'));
    const file = items[1]!;
    assert.ok(file.type === 'stream' && file.mode === 0o600);
  });

  test('restores after teardown deleted the paths, and into --to without touching them', async () => {
    const src = make();
    const stored = await DirStoredContent.capture(await src.items(), scratch());
    await src.restore(stored, { to: path.join(work, 'copy') });
    assert.equal(readFileSync(path.join(work, 'copy', 'config', 'sub', 'b.txt'), 'utf8'), 'bee');
    assert.equal(readFileSync(path.join(work, 'copy', 'app.env'), 'utf8'), 'SECRET=x\n');
    await src.remove();
    assert.equal(existsSync(path.join(work, 'live', 'config')) || existsSync(path.join(work, 'live', 'app.env')), false);
    await assert.rejects(src.health(), (err: unknown) => err instanceof CairnError && err.code === 'files-missing');
    const restoring = new FilesSource({ paths: [path.join(work, 'live', 'config'), { path: path.join(work, 'live', 'app.env'), kind: 'file' }] });
    await restoring.restore(stored, {});
    assert.equal(readFileSync(path.join(work, 'live', 'config', 'a.yaml'), 'utf8'), 'a: 1\n');
    assert.equal(readFileSync(path.join(work, 'live', 'app.env'), 'utf8'), 'SECRET=x\n');
    await restoring.health();
  });

  test('a restore over a live file keeps its permissions', async () => {
    const src = make();
    const stored = await DirStoredContent.capture(await src.items(), scratch());
    writeFileSync(path.join(work, 'live', 'app.env'), 'SECRET=changed\n');
    chmodSync(path.join(work, 'live', 'app.env'), 0o640);
    await src.restore(stored, {});
    assert.equal(readFileSync(path.join(work, 'live', 'app.env'), 'utf8'), 'SECRET=x\n');
    assert.equal(statSync(path.join(work, 'live', 'app.env')).mode & 0o777, 0o640);
  });

  test('a missing path fails the backup with a clear error', async () => {
    const src = new FilesSource({ paths: [path.join(work, 'nope')] });
    await assert.rejects(src.items(), (err: unknown) => err instanceof CairnError && err.code === 'files-missing' && /nope .* does not exist/.test(err.message));
  });

  test('two paths with the same name are refused up front', () => {
    assert.throws(
      () => new FilesSource({ paths: [path.join(work, 'a', 'x'), path.join(work, 'b', 'x')] }),
      (err: unknown) => err instanceof CairnError && err.code === 'files-duplicate-name',
    );
  });
});
