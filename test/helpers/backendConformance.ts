// The one conformance suite every Backend passes (local, sftp, rest, s3): what the repository layer
// relies on, checked against the real storage. Call runBackendConformance from a test file.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { CairnError } from '../../src/errors.js';
import type { Backend, FileInfo, FileType, Handle } from '../../src/backend/backend.js';
import { FaultBackend } from '../../src/backend/faults.js';
import { RetryBackend } from '../../src/backend/retry.js';
import { removeStaged, stagedPath, trackStaged } from '../../src/backend/staging.js';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';

/** A fresh, empty repository location (not yet `create()`d) and how to remove it. */
export interface ConformanceSubject {
  backend: Backend;
  /** Removes what the test left behind; called after backend.close(). */
  cleanup: () => Promise<void>;
}

/** Names of the checks that a backend may declare as known failures. */
export type ConformanceCheck = 'cut-write' | 'invisible-while-writing';

/** Extra knowledge about the backend under test. */
export interface ConformanceOptions {
  /**
   * Checks known to fail for this backend, with the reason. They still run, as todo
   * tests: reported in the output with the reason, not counted as failures.
   */
  knownFailures?: Partial<Record<ConformanceCheck, string>>;
}

/** A random 64-hex storage id. */
export function randomId(): string {
  return randomBytes(32).toString('hex');
}

async function collect(it: AsyncIterable<FileInfo>): Promise<FileInfo[]> {
  const out: FileInfo[] = [];
  for await (const fi of it) out.push(fi);
  return out;
}

async function rejectsWithCode(p: Promise<unknown>, codes: string[]): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof CairnError, `expected a CairnError, got ${String(err)}`);
    assert.ok(codes.includes(err.code), `expected code ${codes.join(' or ')}, got ${err.code}: ${err.message}`);
    return true;
  });
}

/** Runs fn over items with at most `limit` at a time. */
async function pool<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

const fileTypes: FileType[] = ['config', 'key', 'snapshot', 'index', 'lock', 'pack'];

/** Creates a file in the backend's staging folder, as the pack writers do. */
function stage(b: Backend, data: Buffer): string {
  const dir = b.stagingDir();
  mkdirSync(dir, { recursive: true });
  const file = stagedPath(dir);
  writeFileSync(file, data, { flag: 'wx' });
  trackStaged(file);
  return file;
}

/**
 * Registers the conformance tests for one backend under `describe(name)`.
 * `makeBackend` is called once per test and must return an empty repository
 * location; the suite calls `create()` itself, then `close()` and `cleanup()`.
 */
export function runBackendConformance(name: string, makeBackend: () => Promise<ConformanceSubject>, options: ConformanceOptions = {}): void {
  const known = options.knownFailures ?? {};
  /** `racy`: the check can only catch its failure when timing allows (a partial upload seen between two looks). */
  const check = (id: ConformanceCheck | undefined, title: string, fn: (b: Backend) => Promise<void>, racy = false): void => {
    const reason = id !== undefined ? known[id] : undefined;
    const run = async (): Promise<void> => {
      const { backend, cleanup } = await makeBackend();
      try {
        await backend.create();
        await fn(backend);
      } finally {
        await backend.close().catch(() => {});
        await cleanup();
      }
    };
    if (reason === undefined) test(title, run);
    // A known limitation of the server is asserted as such: should it go away, this test says so.
    else if (!racy) test(`${title} — known limitation: ${reason}`, () => assert.rejects(run(), 'the known limitation is gone: drop it from knownFailures'));
    // ...unless catching it is a matter of timing: then a run that misses it is reported, not failed.
    else
      test(`${title} — known limitation: ${reason}`, async (t) => {
        const caught = await run().then(
          () => false,
          () => true,
        );
        if (!caught) t.diagnostic('not caught this time (the write finished between two looks); if this repeats on every run, the limitation may be gone');
      });
  };

  describe(`${name} backend conformance`, () => {
    check(undefined, 'a new repository has no config and every folder lists empty', async (b) => {
      assert.equal(await b.exists({ type: 'config', name: 'config' }), false);
      await rejectsWithCode(b.stat({ type: 'config', name: 'config' }), ['no-repository', 'not-found']);
      for (const t of fileTypes) assert.deepEqual(await collect(b.list(t)), [], `list(${t})`);
      // create() on an existing repository is harmless (init retries, concurrent inits).
      await b.create();
    });

    check(undefined, 'a written file reads back whole, with its size in stat and list', async (b) => {
      const config = Buffer.from('{"version":2}\n');
      await b.write({ type: 'config', name: 'config' }, config);
      assert.deepEqual(await b.read({ type: 'config', name: 'config' }), config);
      assert.deepEqual(await collect(b.list('config')), [{ name: 'config', size: config.length }]);

      const id = randomId();
      const data = randomBytes(300 * 1024 + 17);
      await b.write({ type: 'pack', name: id }, data);
      assert.ok(await b.exists({ type: 'pack', name: id }));
      assert.deepEqual(await b.stat({ type: 'pack', name: id }), { name: id, size: data.length });
      assert.ok((await b.read({ type: 'pack', name: id })).equals(data));
      assert.deepEqual(await collect(b.list('pack')), [{ name: id, size: data.length }]);
      assert.deepEqual(await collect(b.list('snapshot')), []);
    });

    check(undefined, 'ranged reads return exactly the bytes asked for', async (b) => {
      const h: Handle = { type: 'pack', name: randomId() };
      const data = randomBytes(200 * 1024 + 3);
      await b.write(h, data);
      const n = data.length;
      const cases: Array<[number, number | undefined]> = [
        [0, 10], [100, 1000], [65_530, 70_000], [n - 5, 5], [n - 1, 1], [150_000, 0], [150_000, undefined], [0, 0], [n, 0],
      ];
      for (const [offset, length] of cases) {
        const want = data.subarray(offset, length ? offset + length : undefined);
        const got = await b.read(h, offset, length);
        assert.ok(got.equals(want), `read(offset ${offset}, length ${length}): got ${got.length} bytes, want ${want.length}`);
      }
    });

    check(undefined, 'a read past the end of a file fails instead of returning fewer bytes', async (b) => {
      const h: Handle = { type: 'pack', name: randomId() };
      await b.write(h, randomBytes(1000));
      await assert.rejects(b.read(h, 990, 20), CairnError);
    });

    check(undefined, 'reading or stat-ing a missing file fails with not-found', async (b) => {
      const h: Handle = { type: 'pack', name: randomId() };
      assert.equal(await b.exists(h), false);
      await rejectsWithCode(b.read(h), ['not-found']);
      await rejectsWithCode(b.read(h, 10, 10), ['not-found']);
      await rejectsWithCode(b.stat(h), ['not-found']);
      await rejectsWithCode(b.stat({ type: 'snapshot', name: randomId() }), ['not-found']);
    });

    check(undefined, 'an empty file can be written and read back', async (b) => {
      const h: Handle = { type: 'key', name: randomId() };
      await b.write(h, Buffer.alloc(0));
      assert.deepEqual(await b.stat(h), { name: h.name, size: 0 });
      assert.equal((await b.read(h)).length, 0);
    });

    check('cut-write', 'a write cut halfway leaves nothing under the final name', async (b) => {
      const h: Handle = { type: 'pack', name: randomId() };
      const data = randomBytes(1024 * 1024);
      const faulty = new FaultBackend(b, [{ action: 'cut-write', ops: ['write'], nth: 1 }]);
      await assert.rejects(faulty.write(h, data), (err: unknown) => {
        assert.ok(!(err instanceof CairnError && err.code === 'fault-not-injected'), (err as Error).message);
        return true;
      });
      // A server that writes in place (rclone) removes the partial file once it sees the connection
      // cut, which can come a moment after the client gave up: give it two seconds to clean up.
      for (const until = Date.now() + 2000; Date.now() < until && (await b.exists(h)); ) await new Promise((r) => setTimeout(r, 50));
      assert.equal(await b.exists(h), false, 'the cut file must not be visible');
      await rejectsWithCode(b.stat(h), ['not-found']);
      assert.deepEqual(await collect(b.list('pack')), []);
      // The same name can then be written in full.
      await b.write(h, data);
      assert.ok((await b.read(h)).equals(data));
    });

    check('invisible-while-writing', 'a file being written is invisible until it is complete', async (b) => {
      const h: Handle = { type: 'pack', name: randomId() };
      const data = randomBytes(8 * 1024 * 1024);
      let done = false;
      const seen: string[] = [];
      const write = b.write(h, data).finally(() => {
        done = true;
      });
      while (!done) {
        const [st, listed] = await Promise.all([b.stat(h).catch(() => undefined), collect(b.list('pack'))]);
        if (st && st.size !== data.length) seen.push(`stat showed ${st.size} bytes`);
        for (const fi of listed) if (fi.size !== data.length) seen.push(`list showed ${fi.size} bytes`);
      }
      await write;
      assert.deepEqual(seen, [], 'observed a partial file');
      assert.deepEqual(await b.stat(h), { name: h.name, size: data.length });
    }, true);

    check(undefined, 'a staged file stored with writeFile reads back whole; once removed, nothing is left in the staging folder', async (b) => {
      const h: Handle = { type: 'pack', name: randomId() };
      const data = randomBytes(3 * 1024 * 1024 + 5);
      const file = stage(b, data);
      await b.writeFile(h, file);
      assert.deepEqual(await b.stat(h), { name: h.name, size: data.length });
      assert.ok((await b.read(h)).equals(data));
      assert.deepEqual(await collect(b.list('pack')), [{ name: h.name, size: data.length }]);
      await removeStaged(file);
      assert.equal(existsSync(file), false, 'the staged file must be gone');
      assert.ok((await b.read(h)).equals(data), 'removing the staged file must not touch the stored one');
    });

    check('cut-write', 'a writeFile cut halfway leaves nothing under the final name, and the staged file can be sent again', async (b) => {
      const h: Handle = { type: 'pack', name: randomId() };
      const data = randomBytes(1024 * 1024);
      const file = stage(b, data);
      try {
        const faulty = new FaultBackend(b, [{ action: 'cut-write', ops: ['write'], nth: 1 }]);
        await assert.rejects(faulty.writeFile(h, file), (err: unknown) => {
          assert.ok(!(err instanceof CairnError && err.code === 'fault-not-injected'), (err as Error).message);
          return true;
        });
        for (const until = Date.now() + 2000; Date.now() < until && (await b.exists(h)); ) await new Promise((r) => setTimeout(r, 50));
        assert.equal(await b.exists(h), false, 'the cut file must not be visible');
        assert.deepEqual(await collect(b.list('pack')), []);
        assert.ok(existsSync(file), 'the staged file stays for another try');
        await b.writeFile(h, file);
        assert.ok((await b.read(h)).equals(data));
      } finally {
        await removeStaged(file);
      }
      assert.equal(existsSync(file), false);
    });

    check(undefined, 'the retry wrapper sends a staged file again from the start after a cut upload', async (b) => {
      const h: Handle = { type: 'pack', name: randomId() };
      const data = randomBytes(2 * 1024 * 1024 + 1);
      const file = stage(b, data);
      try {
        const faulty = new FaultBackend(b, [{ action: 'cut-write', ops: ['write'], nth: 1 }]);
        const retrying = new RetryBackend(faulty, { maxTries: 3, logger: () => {}, sleep: async () => {} });
        await retrying.writeFile(h, file);
        assert.equal(faulty.injected, 1);
        assert.deepEqual(await b.stat(h), { name: h.name, size: data.length });
        assert.ok((await b.read(h)).equals(data));
      } finally {
        await removeStaged(file);
      }
    });

    check(undefined, 'list finds 2,000 files spread over data/xx', async (b) => {
      const files = Array.from({ length: 2000 }, (_, i) => ({ name: createHash('sha256').update(`pack ${i}`).digest('hex'), size: 16 + (i % 32) }));
      await pool(files, 32, (f) => b.write({ type: 'pack', name: f.name }, randomBytes(f.size)));
      const listed = await collect(b.list('pack'));
      assert.equal(listed.length, files.length);
      const byName = new Map(listed.map((fi) => [fi.name, fi.size]));
      for (const f of files) assert.equal(byName.get(f.name), f.size, `${f.name} missing or wrong size`);
      assert.deepEqual(await collect(b.list('index')), []);
    });

    check(undefined, 'list skips names that are not storage ids', async (b) => {
      const good = randomId();
      await b.write({ type: 'snapshot', name: good }, Buffer.from('snap'));
      for (const stray of ['not-an-id', `.tmp-${randomId()}-1a2b3c`, randomId().toUpperCase(), `${randomId()}.bak`]) {
        await b.write({ type: 'snapshot', name: stray }, Buffer.from('stray'));
      }
      assert.deepEqual(await collect(b.list('snapshot')), [{ name: good, size: 4 }]);
    });

    check(undefined, 'remove deletes a file, and removing a missing file is not an error', async (b) => {
      const h: Handle = { type: 'lock', name: randomId() };
      await b.write(h, Buffer.from('lock'));
      assert.equal(await b.exists(h), true);
      await b.remove(h);
      assert.equal(await b.exists(h), false);
      assert.deepEqual(await collect(b.list('lock')), []);
      await b.remove(h);
      await b.remove({ type: 'pack', name: randomId() });
    });

    check(undefined, '32 concurrent writers all land intact', async (b) => {
      const files = Array.from({ length: 32 }, () => ({ h: { type: 'pack' as const, name: randomId() }, data: randomBytes(96 * 1024 + Math.floor(Math.random() * 1000)) }));
      await Promise.all(files.map((f) => b.write(f.h, f.data)));
      // Two writers racing on the same name (same content, as names are content hashes).
      const same = { h: { type: 'index' as const, name: randomId() }, data: randomBytes(50_000) };
      await Promise.all([b.write(same.h, same.data), b.write(same.h, same.data)]);
      for (const f of [...files, same]) assert.ok((await b.read(f.h)).equals(f.data), `${f.h.name} differs`);
      assert.equal((await collect(b.list('pack'))).length, 32);
    });
  });
}
