import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cairnArgv, runCairn, runRestic } from '../helpers/cli.js';
import { generateTree } from '../helpers/treeGen.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
let tmp: string;
let src: string;
let repo: string;
const env = { CAIRN_PASSWORD: 'killed', RESTIC_PASSWORD: 'killed' };

before(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'cairn-kill-'));
  src = path.join(tmp, 'data', 'src');
  repo = path.join(tmp, 'repo');
  await generateTree(src, { seed: 3, files: 120, maxSize: 4 * 1024 * 1024, bigFile: 40 * 1024 * 1024 });
  assert.equal((await runCairn(['init', '-r', repo], { env })).code, 0);
});

after(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

/** Starts a backup and SIGKILLs it once its first pack has been written. */
async function killMidway(): Promise<void> {
  const child = spawn(process.execPath, [...cairnArgv(), 'backup', '-r', repo, src], { env: { ...process.env, ...env }, stdio: 'ignore' });
  const exited = new Promise<void>((r) => child.on('exit', () => r()));
  const deadline = Date.now() + 60_000;
  for (;;) {
    const packs = (await fs.readdir(path.join(repo, 'data'), { recursive: true })).filter((p) => /[0-9a-f]{64}$/.test(p));
    if (packs.length > 0 || Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  child.kill('SIGKILL');
  await exited;
}

test('a backup killed with SIGKILL midway leaves a valid repository, and the next backup succeeds', async () => {
  await killMidway();
  const snapsAfterKill = await fs.readdir(path.join(repo, 'snapshots')).catch(() => []);
  assert.equal(snapsAfterKill.length, 0, 'no snapshot was written by the killed run');
  const locks = await fs.readdir(path.join(repo, 'locks'));
  assert.equal(locks.length, 1, 'the killed process left its lock behind');

  // a non-exclusive backup lock does not block another backup
  const again = await runCairn(['backup', '-r', repo, '--json', src], { env });
  assert.equal(again.code, 0, again.stderr);

  // check needs an exclusive lock: the dead process's lock is stale and `cairn unlock` removes it
  const blocked = await runCairn(['check', '-r', repo], { env });
  assert.equal(blocked.code, 11, blocked.stderr);
  assert.match(blocked.stderr, /stale/);
  assert.match(blocked.stderr, /cairn unlock/);
  const unlock = await runCairn(['unlock', '-r', repo], { env });
  assert.equal(unlock.code, 0, unlock.stderr);
  assert.match(unlock.stdout, /removed 1 lock/);

  const check = await runCairn(['check', '-r', repo, '--read-data'], { env });
  assert.equal(check.code, 0, check.stdout + check.stderr);
  const rcheck = await runRestic(['-r', repo, 'check', '--read-data'], env);
  assert.equal(rcheck.code, 0, rcheck.stdout + rcheck.stderr);
});
