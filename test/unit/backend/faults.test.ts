// FaultBackend, the test tool that injects storage failures: each kind of fault does what it says,
// and random faults repeat for the same seed.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type { Handle } from '../../../src/backend/backend.js';
import { FaultBackend, seededRandom } from '../../../src/backend/faults.js';
import { LocalBackend } from '../../../src/backend/local.js';

let dir: string;
let local: LocalBackend;
const pack: Handle = { type: 'pack', name: 'ab'.repeat(32) };
const data = Buffer.from('0123456789abcdef');

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'cairn-faults-'));
  local = new LocalBackend(path.join(dir, 'repo'));
  await local.create();
  await local.write(pack, data);
});
after(() => rm(dir, { recursive: true, force: true }));

async function outcomes(b: FaultBackend, n: number): Promise<string> {
  let s = '';
  for (let i = 0; i < n; i++) s += await b.stat(pack).then(() => '.', () => 'x');
  return s;
}

test('nth fails exactly the Nth matching call', async () => {
  const b = new FaultBackend(local, [{ action: 'fail', ops: ['stat'], nth: 3 }]);
  assert.equal(await outcomes(b, 6), '..x...');
  assert.equal(b.injected, 1);
});

test('every fails every Nth matching call', async () => {
  const b = new FaultBackend(local, [{ action: 'fail', every: 2 }]);
  assert.equal(await outcomes(b, 6), '.x.x.x');
});

test('times limits how often a rule hits', async () => {
  const b = new FaultBackend(local, [{ action: 'fail', times: 2 }]);
  assert.equal(await outcomes(b, 5), 'xx...');
});

test('random faults repeat for the same seed and differ for another', async () => {
  const run = (seed: number) => outcomes(new FaultBackend(local, [{ action: 'fail', probability: 0.5 }], { seed }), 40);
  const a = await run(7);
  assert.equal(await run(7), a);
  assert.notEqual(await run(8), a);
  assert.ok(a.includes('x') && a.includes('.'));
  const r = seededRandom(1);
  const xs = Array.from({ length: 1000 }, r);
  assert.ok(xs.every((x) => x >= 0 && x < 1));
});

test('the default fault looks like a dropped connection (ECONNRESET)', async () => {
  const b = new FaultBackend(local, [{ action: 'fail', nth: 1 }]);
  await assert.rejects(b.read(pack), (e: unknown) => (e as { code?: string }).code === 'ECONNRESET' && /injected fault/.test(String(e)));
});

test('match restricts a rule to some files', async () => {
  const other: Handle = { type: 'snapshot', name: 'cd'.repeat(32) };
  await local.write(other, Buffer.from('x'));
  const b = new FaultBackend(local, [{ action: 'fail', match: (h) => h.type === 'snapshot' }]);
  await b.stat(pack);
  await assert.rejects(b.stat(other));
});

test('short-read returns half of what was read', async () => {
  const b = new FaultBackend(local, [{ action: 'short-read', nth: 1 }]);
  assert.deepEqual(await b.read(pack), data.subarray(0, 8));
  assert.deepEqual(await b.read(pack), data);
});

test('delay postpones the call and then performs it', async () => {
  const b = new FaultBackend(local, [{ action: 'delay', delayMs: 20, nth: 1 }]);
  assert.deepEqual(await b.read(pack), data);
  assert.equal(b.injected, 1);
});

test('a cut write on a backend that ignores WriteOptions says so instead of pretending', async () => {
  const h: Handle = { type: 'index', name: 'ef'.repeat(32) };
  // the local backend with WriteOptions dropped: it can be neither followed nor aborted
  const ignoring = Object.assign(Object.create(local) as typeof local, { write: (wh: Handle, d: Buffer) => local.write(wh, d) });
  const b = new FaultBackend(ignoring, [{ action: 'cut-write', nth: 1 }]);
  await assert.rejects(b.write(h, Buffer.alloc(1000)), /could not cut the write/);
});
