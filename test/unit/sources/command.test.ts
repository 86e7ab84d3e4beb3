// CommandSource with real commands (sh, tar). Output is kept in a plain
// directory (test/helpers/storedContentDir.ts), not a repository.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CairnError } from '../../../src/errors.js';
import { CommandSource } from '../../../src/sources/command.js';
import { DirStoredContent } from '../../helpers/storedContentDir.js';

let work: string;
let n = 0;
const scratch = (): string => path.join(work, `store-${++n}`);

async function rejection(p: Promise<unknown>): Promise<CairnError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof CairnError, `expected a CairnError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected a rejection');
}

before(() => {
  work = mkdtempSync(path.join(tmpdir(), 'cairn-cmdsrc-'));
  mkdirSync(path.join(work, 'app', 'conf'), { recursive: true });
  writeFileSync(path.join(work, 'app', 'conf', 'settings.ini'), '[main]\nkey = value\n');
  writeFileSync(path.join(work, 'app', 'data.bin'), Buffer.from([0, 1, 2, 255]));
});

after(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('CommandSource', () => {
  test("stores a command's stdout and restores it through a restore command reading stdin", async () => {
    const src = new CommandSource({
      name: 'app.tar',
      command: ['tar', '-C', path.join(work, 'app'), '-cf', '-', '.'],
      restoreCommand: `mkdir -p "\${CAIRN_RESTORE_TO:-${path.join(work, 'app')}}" && tar -C "\${CAIRN_RESTORE_TO:-${path.join(work, 'app')}}" -xf -`,
    });
    const items = await src.items();
    assert.deepEqual(items.map((i) => [i.type, i.name]), [['stream', 'app.tar']]);
    const stored = await DirStoredContent.capture(items, scratch());
    rmSync(path.join(work, 'app'), { recursive: true });
    await src.restore(stored, {});
    assert.equal(readFileSync(path.join(work, 'app', 'conf', 'settings.ini'), 'utf8'), '[main]\nkey = value\n');
    assert.deepEqual([...readFileSync(path.join(work, 'app', 'data.bin'))], [0, 1, 2, 255]);
    await src.restore(stored, { to: path.join(work, 'elsewhere') });
    assert.deepEqual([...readFileSync(path.join(work, 'elsewhere', 'data.bin'))], [0, 1, 2, 255]);
  });

  test('a command that fails after writing some output fails the stream, with its stderr', async () => {
    const src = new CommandSource({ name: 'half', command: 'echo partial output; echo "disk on fire" >&2; exit 3' });
    const dir = scratch();
    const err = await rejection(src.items().then((items) => DirStoredContent.capture(items, dir)));
    assert.equal(err.code, 'command-backup-failed');
    assert.match(err.message, /the backup command of source "half" \(.*\) exited with code 3: disk on fire/);
  });

  test('a command that does not exist fails with a clear error', async () => {
    const err = await rejection(new CommandSource({ name: 'x', command: ['/nonexistent/dumper'] }).items().then((items) => DirStoredContent.capture(items, scratch())));
    assert.equal(err.code, 'program-not-found');
    assert.match(err.message, /\/nonexistent\/dumper was not found/);
  });

  test('a failing restore command is reported with its stderr', async () => {
    const src = new CommandSource({ name: 'blob', command: 'printf hello', restoreCommand: 'cat >/dev/null; echo "target refuses" >&2; exit 1' });
    const stored = await DirStoredContent.capture(await src.items(), scratch());
    const err = await rejection(src.restore(stored, {}));
    assert.equal(err.code, 'command-restore-failed');
    assert.match(err.message, /target refuses/);
    const noRestore = new CommandSource({ name: 'blob', command: 'printf hello' });
    assert.equal((await rejection(noRestore.restore(stored, {}))).code, 'command-no-restore');
    assert.equal(existsSync(path.join(work, 'blob')), false);
  });
});
