// The local backend against the shared conformance suite, plus a real interrupted write: a child
// process whose file size limit (prlimit --fsize) makes the disk write fail midway with EFBIG.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { LocalBackend } from '../../../src/backend/local.js';
import { randomId, runBackendConformance } from '../../helpers/backendConformance.js';

runBackendConformance(
  'local',
  async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'cairn-local-'));
    return { backend: new LocalBackend(path.join(dir, 'repo')), cleanup: () => rm(dir, { recursive: true, force: true }) };
  },
);

test('a local write that fails midway (file size limit) leaves nothing under the final name', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'cairn-local-cut-'));
  try {
    const repo = path.join(dir, 'repo');
    await new LocalBackend(repo).create();
    const name = randomId();
    const localTs = pathToFileURL(path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../src/backend/local.ts')).href;
    const script = `
      const { LocalBackend } = await import(${JSON.stringify(localTs)});
      try {
        await new LocalBackend(${JSON.stringify(repo)}).write({ type: 'pack', name: ${JSON.stringify(name)} }, Buffer.alloc(4 << 20, 7));
        console.log('written');
      } catch (err) { console.log('failed', err.code); }`;
    const r = spawnSync('prlimit', ['--fsize=1048576', process.execPath, '--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8' });
    assert.equal(r.stdout.trim(), 'failed EFBIG', r.stderr);
    const b = new LocalBackend(repo);
    assert.equal(await b.exists({ type: 'pack', name }), false);
    assert.deepEqual(await readdir(path.join(repo, 'data', name.slice(0, 2))), [], 'no temporary file is left behind');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
