import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runCairn, runRestic } from '../helpers/cli.js';

test('init makes a v2 repository with a fresh polynomial; --copy-chunker-params-from makes two repositories cut data alike', async () => {
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'cairn-init-'));
  try {
    const env = { CAIRN_PASSWORD: 'a', CAIRN_FROM_PASSWORD: 'a', RESTIC_PASSWORD: 'a' };
    const [a, b, c] = ['a', 'b', 'c'].map((n) => path.join(tmp, n)) as [string, string, string];
    assert.equal((await runCairn(['init', '-r', a], { env })).code, 0);
    const copy = await runCairn(['init', '-r', b, '--copy-chunker-params-from', a], { env });
    assert.equal(copy.code, 0, copy.stderr);
    assert.equal((await runCairn(['init', '-r', c], { env })).code, 0);
    const config = async (r: string) => JSON.parse((await runCairn(['cat', 'config', '-r', r], { env })).stdout) as { version: number; id: string; chunker_polynomial: string };
    const [ca, cb, cc] = await Promise.all([config(a), config(b), config(c)]);
    assert.equal(ca.version, 2);
    assert.equal(cb.chunker_polynomial, ca.chunker_polynomial);
    assert.notEqual(cb.id, ca.id, 'each repository has its own id');
    assert.notEqual(cc.chunker_polynomial, ca.chunker_polynomial, 'a fresh repository gets a fresh polynomial');
    const rc = await runRestic(['-r', a, 'cat', 'config'], env);
    assert.equal(rc.code, 0, rc.stderr);

    // identical multi-chunk data gives identical blob ids in the two linked repositories
    const src = path.join(tmp, 'src');
    await fs.mkdir(src);
    const data = Buffer.alloc(6 * 1024 * 1024);
    for (let i = 0; i < data.length; i += 4) data.writeUInt32LE(((Math.imul(i, 2654435761) >>> 0) ^ (i >>> 7)) >>> 0, i);
    await fs.writeFile(path.join(src, 'big.bin'), data);
    for (const r of [a, b]) assert.equal((await runCairn(['backup', '-r', r, src], { env })).code, 0);
    const blobs = async (r: string) => (await runRestic(['-r', r, 'list', 'blobs'], env)).stdout.split('\n').filter((l) => l.startsWith('data')).sort();
    const [ba, bb] = await Promise.all([blobs(a), blobs(b)]);
    assert.ok(ba.length > 1, 'the file spans several chunks');
    assert.deepEqual(bb, ba);

    const again = await runCairn(['init', '-r', a], { env });
    assert.equal(again.code, 1);
    assert.match(again.stderr, /already exists/);
  } finally {
    await fs.rm(tmp, { recursive: true, force: true });
  }
});
