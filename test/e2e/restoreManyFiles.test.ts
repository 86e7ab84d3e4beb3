// A pack of tiny files holds blobs of thousands of files: restoring it must not
// need a file descriptor per file (the usual limit is 1024).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { cairnArgv, runCairn } from '../helpers/cli.js';

test('thousands of tiny files in one pack restore completely under a limit of 256 open files', async () => {
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'cairn-manyfiles-'));
  try {
    const env = { CAIRN_PASSWORD: 'pw' };
    const src = path.join(tmp, 'src');
    await fs.mkdir(src);
    const files = 3000;
    await Promise.all(Array.from({ length: files }, (_, i) => fs.writeFile(path.join(src, `f${i}.txt`), `file ${i}\n`.repeat(1 + (i % 7)))));
    const repo = path.join(tmp, 'repo');
    assert.equal((await runCairn(['init', '-r', repo], { env })).code, 0);
    const backup = await runCairn(['backup', '-r', repo, src], { env });
    assert.equal(backup.code, 0, backup.stderr);
    assert.equal((await fs.readdir(path.join(repo, 'data'), { recursive: true })).filter((n) => /[0-9a-f]{64}$/.test(n)).length, 2, 'two packs: files and trees');
    const target = path.join(tmp, 'restored');
    const restore = spawnSync('bash', ['-c', 'ulimit -n 256 && exec "$@"', 'bash', process.execPath, ...cairnArgv(), 'restore', 'latest', '-r', repo, '--target', target], {
      env: { ...process.env, ...env },
      encoding: 'utf8',
    });
    assert.equal(restore.status, 0, restore.stderr);
    const back = path.join(target, src);
    assert.equal((await fs.readdir(back)).length, files);
    for (const i of [0, 1, 1234, files - 1]) assert.equal(await fs.readFile(path.join(back, `f${i}.txt`), 'utf8'), `file ${i}\n`.repeat(1 + (i % 7)));
  } finally {
    await fs.rm(tmp, { recursive: true, force: true });
  }
});
