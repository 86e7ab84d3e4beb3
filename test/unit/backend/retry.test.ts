// RetryBackend: transient failures are retried with growing, jittered delays and then succeed;
// permanent ones fail at once; a limit ends the retries with the last error and a remedy.
// Faults are injected with FaultBackend around a real LocalBackend; waits are recorded, not slept.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Handle } from '../../../src/backend/backend.js';
import { FaultBackend, type FaultRule } from '../../../src/backend/faults.js';
import { LocalBackend } from '../../../src/backend/local.js';
import { RetryBackend, type RetryEvent, type RetryOptions, isTransientError } from '../../../src/backend/retry.js';
import { CairnError } from '../../../src/errors.js';

let dir: string;
let local: LocalBackend;
const pack: Handle = { type: 'pack', name: 'ab'.repeat(32) };
const data = Buffer.from('pack contents');

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'cairn-retry-'));
  local = new LocalBackend(path.join(dir, 'repo'));
  await local.create();
  await local.write(pack, data);
});
after(() => rm(dir, { recursive: true, force: true }));

/** A RetryBackend over faults, recording log events and waits instead of sleeping. */
function setup(rules: FaultRule[], opts: RetryOptions = {}) {
  const faults = new FaultBackend(local, rules);
  const events: RetryEvent[] = [];
  const waits: number[] = [];
  const retry = new RetryBackend(faults, {
    logger: (e) => events.push(e),
    sleep: async (ms) => {
      waits.push(ms);
    },
    ...opts,
  });
  return { faults, retry, events, waits };
}

function httpError(status: number): Error {
  return Object.assign(new Error(`HTTP ${status}`), { statusCode: status });
}

describe('retrying transient failures', () => {
  test('a dropped connection is retried and the read then succeeds', async () => {
    const { faults, retry, events } = setup([{ action: 'fail', ops: ['read'], times: 2 }]);
    assert.deepEqual(await retry.read(pack), data);
    assert.equal(faults.calls.read, 3);
    assert.deepEqual(
      events.map((e) => [e.op, e.file, e.attempt]),
      [['read', `data/ab/${pack.name}`, 1], ['read', `data/ab/${pack.name}`, 2]],
    );
    assert.match(String(events[0]!.error), /connection reset/);
  });

  for (const [what, make] of [
    ['HTTP 503', () => httpError(503)],
    ['HTTP 429', () => httpError(429)],
    ['ECONNREFUSED', () => Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })],
    ['EPIPE', () => Object.assign(new Error('write EPIPE'), { code: 'EPIPE' })],
    ['a timeout', () => Object.assign(new Error('Headers Timeout Error'), { code: 'UND_ERR_HEADERS_TIMEOUT' })],
    ['an SSH channel failure', () => new CairnError('connection-lost', 'lost the connection to the sftp server', 'Check it.')],
  ] as const) {
    test(`${what} is retried`, async () => {
      const { retry, events } = setup([{ action: 'fail', ops: ['stat'], nth: 1, error: make }]);
      assert.deepEqual(await retry.stat(pack), { name: pack.name, size: data.length });
      assert.equal(events.length, 1);
    });
  }

  test('writes, removes, exists and create are retried too', async () => {
    const { retry, events } = setup((['write', 'exists', 'remove', 'create'] as const).map((op) => ({ action: 'fail', ops: [op], nth: 1 })));
    const h: Handle = { type: 'snapshot', name: 'cd'.repeat(32) };
    await retry.write(h, Buffer.from('snap'));
    assert.equal(await retry.exists(h), true);
    await retry.remove(h);
    await retry.create();
    assert.deepEqual([...new Set(events.map((e) => e.op))].sort(), ['create', 'exists', 'remove', 'write']);
  });

  test('a listing that breaks midway starts over and yields every name once', async () => {
    const names = ['01', '02', '03', '04', '05'].map((p) => p.repeat(32));
    for (const n of names) await local.write({ type: 'index', name: n }, Buffer.from(n));
    const { retry, events } = setup([{ action: 'fail', ops: ['list'], nth: 1, afterItems: 3 }]);
    const listed: string[] = [];
    for await (const fi of retry.list('index')) listed.push(fi.name);
    assert.deepEqual(listed.sort(), names);
    assert.equal(events.length, 1);
    assert.equal(events[0]!.file, 'index/');
  });

  test('a read that quietly returns fewer bytes than asked is retried', async () => {
    const { retry, events } = setup([{ action: 'short-read', ops: ['read'], nth: 1 }]);
    assert.deepEqual(await retry.read(pack, 2, 8), data.subarray(2, 10));
    assert.equal(events.length, 1);
  });

  test('the delay doubles after each failure, with jitter, up to the cap', async () => {
    const low = setup([{ action: 'fail', times: 6 }], { baseDelayMs: 100, maxDelayMs: 1000, random: () => 0 });
    await low.retry.stat(pack);
    assert.deepEqual(low.waits, [50, 100, 200, 400, 500, 500]);
    const high = setup([{ action: 'fail', times: 6 }], { baseDelayMs: 100, maxDelayMs: 1000, random: () => 0.999999 });
    await high.retry.stat(pack);
    assert.deepEqual(high.waits, [100, 200, 400, 800, 1000, 1000]);
  });

  test('by default it makes 10 tries spread over at most about two minutes', async () => {
    const { faults, retry, waits } = setup([{ action: 'fail' }], { random: () => 0.999999 });
    await assert.rejects(retry.stat(pack));
    assert.equal(faults.calls.stat, 10);
    const total = waits.reduce((a, b) => a + b, 0);
    assert.ok(total >= 100_000 && total <= 130_000, `total wait ${total} ms`);
  });
});

describe('not retrying permanent failures', () => {
  test('a missing file fails at once with not-found', async () => {
    const { faults, retry, events } = setup([]);
    await assert.rejects(retry.read({ type: 'pack', name: 'ef'.repeat(32) }), (e: unknown) => e instanceof CairnError && e.code === 'not-found');
    assert.equal(faults.calls.read, 1);
    assert.equal(events.length, 0);
  });

  for (const [what, make] of [
    ['a credentials error', () => new CairnError('credentials', 'refused the login', 'Check the key.')],
    ['HTTP 403', () => httpError(403)],
    ['HTTP 401', () => httpError(401)],
    ['no repository', () => new CairnError('no-repository', 'no config', 'Run init.', 10)],
  ] as const) {
    test(`${what} is not retried`, async () => {
      const { faults, retry, events } = setup([{ action: 'fail', ops: ['stat'], error: make }]);
      await assert.rejects(retry.stat(pack));
      assert.equal(faults.calls.stat, 1);
      assert.equal(events.length, 0);
    });
  }

  test('isTransientError looks through generic wrappers to the cause', () => {
    const wrapped = new CairnError('s3-error', 'S3 failed', 'Retry.', 1, { cause: httpError(500) });
    assert.equal(isTransientError(wrapped), true);
    const denied = new CairnError('s3-error', 'S3 failed', 'Retry.', 1, { cause: httpError(403) });
    assert.equal(isTransientError(denied), false);
  });
});

describe('giving up', () => {
  test('after the limit it fails with the last error, the number of tries and a remedy', async () => {
    const { faults, retry, events } = setup([{ action: 'fail', ops: ['read'] }], { maxTries: 4 });
    await assert.rejects(retry.read(pack), (e: unknown) => {
      assert.ok(e instanceof CairnError);
      assert.match(e.message, /read data\/ab\/abab.* failed 4 times; last error: injected fault: connection reset/);
      assert.ok(e.message.includes(local.location));
      assert.match(e.remedy, /reachable/);
      return true;
    });
    assert.equal(faults.calls.read, 4);
    assert.equal(events.length, 3);
  });

  test('a CairnError keeps its code and exit code when retries run out', async () => {
    const { retry } = setup([{ action: 'fail', error: () => new CairnError('server-unreachable', 'cannot reach X', 'Start X.') }], { maxTries: 2 });
    await assert.rejects(retry.stat(pack), (e: unknown) => e instanceof CairnError && e.code === 'server-unreachable' && /failed 2 times/.test(e.message));
  });

  test('the default logger writes one line on stderr naming the operation, file and error', async () => {
    const faults = new FaultBackend(local, [{ action: 'fail', ops: ['stat'], nth: 1 }]);
    const retry = new RetryBackend(faults, { sleep: async () => {} });
    const lines: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((chunk: string | Uint8Array) => {
      lines.push(String(chunk));
      return true;
    }) as typeof process.stderr.write;
    try {
      await retry.stat(pack);
    } finally {
      process.stderr.write = write;
    }
    assert.equal(lines.length, 1);
    assert.match(lines[0]!, /^cairn: stat data\/ab\/abab\S+ on \S+ failed \(injected fault: connection reset during stat .*\); retry 1\/9 in \d+\.\ds\n$/);
  });
});
