/**
 * FaultBackend: a TEST TOOL, not for production use. It wraps a real backend
 * and injects failures so tests can prove what happens when storage misbehaves:
 * fail the Nth call, every Nth call, or calls at random with probability p
 * (seeded, so runs repeat); cut a write halfway (the wrapped backend receives
 * half the bytes, then the upload is aborted: it must leave nothing under the
 * final name); delay a call; return a short read.
 *
 * Cutting a write needs the wrapped backend to honour `WriteOptions` (an abort
 * signal and progress reports); the remote backends do.
 */
import { stat } from 'node:fs/promises';
import { CairnError } from '../errors.js';
import { type Backend, type FileInfo, type FileType, type Handle, handlePath } from './backend.js';
import type { BackendOp, WriteOptions } from './retry.js';

/** What a rule does to the calls it hits. */
export type FaultAction =
  /** Throw `error()` (default: a connection reset) instead of calling the wrapped backend. */
  | 'fail'
  /** Call the wrapped backend's write and abort it once half the bytes were sent. */
  | 'cut-write'
  /** Wait `delayMs`, then call the wrapped backend. */
  | 'delay'
  /** Return only the first half of what the wrapped backend read. */
  | 'short-read';

/** When and how to inject one kind of fault. Without nth/every/probability, every matching call is hit. */
export interface FaultRule {
  action: FaultAction;
  /** Operations this rule counts and hits (default: all). */
  ops?: BackendOp[];
  /** Only files whose handle matches. */
  match?: (h: Handle) => boolean;
  /** Hit only the Nth matching call (1-based). */
  nth?: number;
  /** Hit every Nth matching call. */
  every?: number;
  /** Hit each matching call with this probability (seeded). */
  probability?: number;
  /** Stop after this many hits. */
  times?: number;
  /** The error thrown by 'fail' (default: an ECONNRESET). */
  error?: () => Error;
  /** For 'delay'. */
  delayMs?: number;
  /** For 'fail' on list: yield this many entries first, then fail (a listing that breaks midway). */
  afterItems?: number;
}

/** Seeded pseudo-random numbers in [0, 1) (mulberry32), so fault runs are repeatable. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The error 'fail' throws by default: looks like a dropped connection, so it counts as transient. */
export function injectedReset(what: string): Error {
  const err = new Error(`injected fault: connection reset during ${what}`) as Error & { code: string };
  err.code = 'ECONNRESET';
  return err;
}

interface RuleState {
  rule: FaultRule;
  calls: number;
  hits: number;
}

/** A backend decorator that injects faults for tests (see the top of this file). */
export class FaultBackend implements Backend {
  readonly location: string;
  /** Number of faults injected so far. */
  injected = 0;
  /** Calls seen per operation. */
  readonly calls: Record<BackendOp, number> = { stat: 0, read: 0, write: 0, remove: 0, list: 0, exists: 0, create: 0 };
  private readonly rules: RuleState[];
  private readonly random: () => number;

  constructor(
    readonly inner: Backend,
    rules: FaultRule[],
    opts: { seed?: number } = {},
  ) {
    this.location = inner.location;
    this.rules = rules.map((rule) => ({ rule, calls: 0, hits: 0 }));
    this.random = seededRandom(opts.seed ?? 1);
  }

  /** The rules that hit this call (each matching rule counts the call). */
  private hits(op: BackendOp, h: Handle | undefined): FaultRule[] {
    this.calls[op]++;
    const out: FaultRule[] = [];
    for (const st of this.rules) {
      const r = st.rule;
      if (r.ops && !r.ops.includes(op)) continue;
      if (r.match && (h === undefined || !r.match(h))) continue;
      st.calls++;
      if (r.times !== undefined && st.hits >= r.times) continue;
      let hit = true;
      if (r.nth !== undefined) hit = st.calls === r.nth;
      else if (r.every !== undefined) hit = st.calls % r.every === 0;
      else if (r.probability !== undefined) hit = this.random() < r.probability;
      if (!hit) continue;
      st.hits++;
      this.injected++;
      out.push(r);
    }
    return out;
  }

  /** Applies 'delay' and 'fail' rules before a call. */
  private async before(op: BackendOp, h: Handle | undefined, what: string): Promise<FaultRule[]> {
    const rules = this.hits(op, h);
    for (const r of rules) {
      if (r.action === 'delay') await new Promise((res) => setTimeout(res, r.delayMs ?? 0));
    }
    const fail = rules.find((r) => r.action === 'fail' && r.afterItems === undefined);
    if (fail) throw fail.error ? fail.error() : injectedReset(what);
    return rules;
  }

  async stat(h: Handle): Promise<FileInfo> {
    await this.before('stat', h, `stat ${handlePath(h)}`);
    return this.inner.stat(h);
  }

  async read(h: Handle, offset?: number, length?: number): Promise<Buffer> {
    const rules = await this.before('read', h, `read ${handlePath(h)}`);
    const buf = await this.inner.read(h, offset, length);
    if (rules.some((r) => r.action === 'short-read')) return buf.subarray(0, Math.floor(buf.length / 2));
    return buf;
  }

  async write(h: Handle, data: Buffer, opts?: WriteOptions): Promise<void> {
    const rules = await this.before('write', h, `write ${handlePath(h)}`);
    const w = this.inner.write as (h: Handle, data: Buffer, opts?: WriteOptions) => Promise<void>;
    if (!rules.some((r) => r.action === 'cut-write')) return w.call(this.inner, h, data, opts);
    return this.cut(h, data.length, (o) => w.call(this.inner, h, data, o), opts);
  }

  /** Stores a local file through the wrapped backend; the write rules apply to it as to write. */
  async writeFile(h: Handle, localPath: string, opts?: WriteOptions): Promise<void> {
    const rules = await this.before('write', h, `write ${handlePath(h)}`);
    const w = this.inner.writeFile as (h: Handle, localPath: string, opts?: WriteOptions) => Promise<void>;
    if (!rules.some((r) => r.action === 'cut-write')) return w.call(this.inner, h, localPath, opts);
    const size = (await stat(localPath)).size;
    return this.cut(h, size, (o) => w.call(this.inner, h, localPath, o), opts);
  }

  stagingDir(): string {
    return this.inner.stagingDir();
  }

  /** Runs a store of `size` bytes and aborts it once half were sent. */
  private async cut(h: Handle, size: number, store: (opts: WriteOptions) => Promise<void>, opts?: WriteOptions): Promise<void> {
    const ac = new AbortController();
    const half = Math.floor(size / 2);
    let progressed = false;
    const cut = injectedReset(`write ${handlePath(h)} (cut after ${half} of ${size} bytes)`);
    opts?.signal?.addEventListener('abort', () => ac.abort(opts.signal?.reason), { once: true });
    await store({
      signal: ac.signal,
      onProgress: (sent) => {
        progressed = true;
        opts?.onProgress?.(sent);
        if (sent >= half && !ac.signal.aborted) ac.abort(cut);
      },
    }).catch((err: unknown) => {
      if (ac.signal.aborted) throw cut;
      throw err;
    });
    // The upload finished although we asked to abort it: the wrapped backend ignores WriteOptions.
    throw new CairnError(
      'fault-not-injected',
      `FaultBackend could not cut the write of ${handlePath(h)}: ${this.inner.location} ${progressed ? 'ignored the abort signal' : 'reported no progress'} and stored the whole file`,
      'Make the wrapped backend honour WriteOptions (signal, onProgress) in write() and writeFile().',
    );
  }

  async remove(h: Handle): Promise<void> {
    await this.before('remove', h, `remove ${handlePath(h)}`);
    return this.inner.remove(h);
  }

  async exists(h: Handle): Promise<boolean> {
    await this.before('exists', h, `exists ${handlePath(h)}`);
    return this.inner.exists(h);
  }

  async create(): Promise<void> {
    await this.before('create', undefined, 'create');
    return this.inner.create();
  }

  async *list(type: FileType): AsyncIterable<FileInfo> {
    const rules = await this.before('list', undefined, `list ${type}`);
    const midway = rules.find((r) => r.action === 'fail' && r.afterItems !== undefined);
    let n = 0;
    for await (const fi of this.inner.list(type)) {
      if (midway && n === midway.afterItems) throw midway.error ? midway.error() : injectedReset(`list ${type} (after ${n} entries)`);
      n++;
      yield fi;
    }
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
