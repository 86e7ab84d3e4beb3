import { CairnError, describeError } from '../errors.js';
import { type Backend, type FileInfo, type FileType, type Handle, handlePath } from './backend.js';

/**
 * Optional third argument of `write` understood by the remote backends and the
 * decorators (proposed for the Backend interface): `signal` aborts an upload
 * midway (nothing becomes visible), `onProgress` reports bytes handed to the
 * transport so far.
 */
export interface WriteOptions {
  signal?: AbortSignal;
  onProgress?: (bytesSent: number) => void;
}

/** The operations of a Backend, as named in retry and fault messages. */
export type BackendOp = 'stat' | 'read' | 'write' | 'remove' | 'list' | 'exists' | 'create';

/** One retry about to happen, handed to the logger. */
export interface RetryEvent {
  op: BackendOp;
  /** Repository-relative path of the file, or the folder for list/create. */
  file: string;
  location: string;
  /** The attempt that failed (1-based). */
  attempt: number;
  maxTries: number;
  delayMs: number;
  error: unknown;
}

/** How hard RetryBackend tries before giving up. */
export interface RetryOptions {
  /** Total tries per operation, including the first (default 10). */
  maxTries?: number;
  /** Delay before the first retry; doubles each time (default 500 ms). */
  baseDelayMs?: number;
  /** Cap of a single delay (default 30 s); the defaults add up to about two minutes. */
  maxDelayMs?: number;
  /** Called before every retry; default prints one line on stderr. */
  logger?: (e: RetryEvent) => void;
  /** Source of randomness for the jitter (default Math.random). */
  random?: () => number;
  /** How to wait (tests can make it instant). */
  sleep?: (ms: number) => Promise<void>;
  /**
   * Until one call has succeeded, fail at once when nothing answers at the server's address
   * (connection refused, no route, unknown host), as restic does when it opens a repository:
   * a wrong port or a server that is down is reported in one line, not after minutes of retries.
   * Once the server has answered, such failures are retried as usual (default false).
   */
  failFastUntilConnected?: boolean;
}

// Codes of CairnErrors that describe a passing condition of the network or server.
const transientCodes = new Set(['server-unreachable', 'unreachable', 'connection-lost', 'server-error', 'server-busy', 'timeout', 'short-response']);

// Codes that are never worth retrying, whatever caused them.
const permanentCodes = new Set([
  'credentials', 'not-found', 'no-repository', 'no-bucket', 'bad-location', 'unsupported', 'permission-denied', 'host-key-changed',
  'host-key-revoked', 'unknown-host-key', 'host-not-found', 'tls', 'short-read', 'wrong-region', 'bucket-taken', 'fault-not-injected',
]);

// Nothing answers at the address: worth retrying during a run, not when the very first call meets it.
const unreachableCodes = new Set(['server-unreachable', 'unreachable', 'ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND']);

/** True when `err` (or what caused it) says no server answers at the address. */
function isUnreachable(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; typeof e === 'object' && e !== null && depth < 5; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && unreachableCodes.has(code)) return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

const transientErrnos = new Set([
  'ECONNRESET', 'ECONNREFUSED', 'ECONNABORTED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENETDOWN', 'EAI_AGAIN',
  'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CLOSED',
]);

/**
 * True for errors worth retrying: network drops and timeouts, HTTP 5xx and 429,
 * SSH channel failures. Credentials, not-found, no-repository and the like are
 * never retried; a CairnError with a generic code is judged by its cause.
 */
export function isTransientError(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e !== undefined && e !== null && depth < 5; depth++) {
    if (typeof e !== 'object') return false;
    if (e instanceof CairnError) {
      if (transientCodes.has(e.code)) return true;
      if (permanentCodes.has(e.code)) return false;
      // A generic code (e.g. 's3-error'): decide by what caused it.
      e = e.cause;
      continue;
    }
    const o = e as { code?: unknown; statusCode?: unknown; $retryable?: unknown; $metadata?: { httpStatusCode?: unknown }; level?: unknown; cause?: unknown; name?: unknown };
    if (typeof o.code === 'string' && transientErrnos.has(o.code)) return true;
    const status = typeof o.statusCode === 'number' ? o.statusCode : o.$metadata?.httpStatusCode;
    if (typeof status === 'number' && (status >= 500 || status === 429 || status === 408)) return true;
    if (o.$retryable !== undefined) return true;
    if (o.name === 'TimeoutError') return true;
    // ssh2 marks transport failures with a level; authentication failures are 'client-authentication'.
    if (o.level === 'client-socket' || o.level === 'client-timeout') return true;
    e = o.cause;
  }
  return false;
}

const defaultSleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The default retry logger: one line on stderr naming the operation, file and error. */
export function logRetryToStderr(e: RetryEvent): void {
  process.stderr.write(`cairn: ${e.op} ${e.file} on ${e.location} failed (${describeError(e.error)}); retry ${e.attempt}/${e.maxTries - 1} in ${(e.delayMs / 1000).toFixed(1)}s\n`);
}

/**
 * Wraps a backend so transient failures (dropped connections, timeouts, 5xx,
 * 429) are retried with exponential backoff and jitter, and permanent ones
 * (credentials, not-found, no-repository) fail at once.
 */
export class RetryBackend implements Backend {
  readonly location: string;
  private readonly maxTries: number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly logger: (e: RetryEvent) => void;
  private readonly random: () => number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly failFastUntilConnected: boolean;
  /** Whether a call has succeeded yet (see RetryOptions.failFastUntilConnected). */
  private connected = false;

  constructor(
    readonly inner: Backend,
    opts: RetryOptions = {},
  ) {
    this.location = inner.location;
    this.maxTries = Math.max(1, opts.maxTries ?? 10);
    this.baseDelayMs = opts.baseDelayMs ?? 500;
    this.maxDelayMs = opts.maxDelayMs ?? 30_000;
    this.logger = opts.logger ?? logRetryToStderr;
    this.random = opts.random ?? Math.random;
    this.sleep = opts.sleep ?? defaultSleep;
    this.failFastUntilConnected = opts.failFastUntilConnected ?? false;
  }

  /** Whether an error is final before the server ever answered (see RetryOptions.failFastUntilConnected). */
  private failsFast(err: unknown): boolean {
    return this.failFastUntilConnected && !this.connected && isUnreachable(err);
  }

  /** Delay before retry number `attempt` (1-based): half fixed, half random ("equal jitter"). */
  private delay(attempt: number): number {
    const d = Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** (attempt - 1));
    return Math.round(d / 2 + (d / 2) * this.random());
  }

  private async run<T>(op: BackendOp, file: string, fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        const result = await fn();
        this.connected = true;
        return result;
      } catch (err) {
        if (signal?.aborted || !isTransientError(err) || this.failsFast(err)) throw err;
        if (attempt >= this.maxTries) throw this.gaveUp(op, file, attempt, err);
        const delayMs = this.delay(attempt);
        this.logger({ op, file, location: this.location, attempt, maxTries: this.maxTries, delayMs, error: err });
        await this.sleep(delayMs);
      }
    }
  }

  private gaveUp(op: BackendOp, file: string, tries: number, err: unknown): CairnError {
    const code = err instanceof CairnError ? err.code : 'backend-unavailable';
    return new CairnError(
      code,
      `${op} ${file} on ${this.location} failed ${tries} times; last error: ${describeError(err)}`,
      `Check that ${this.location} is reachable and the server is healthy (network, disk space, service logs), then run the command again; ` +
        'nothing partial was left behind.',
      err instanceof CairnError ? err.exitCode : undefined,
      { cause: err },
    );
  }

  stat(h: Handle): Promise<FileInfo> {
    return this.run('stat', handlePath(h), () => this.inner.stat(h));
  }

  read(h: Handle, offset = 0, length = 0): Promise<Buffer> {
    return this.run('read', handlePath(h), async () => {
      const buf = await this.inner.read(h, offset, length);
      // A transport that quietly returns fewer bytes than asked is treated like a dropped connection.
      if (length > 0 && buf.length !== length) {
        throw new CairnError('short-response', `${handlePath(h)}: asked for ${length} bytes at offset ${offset}, got ${buf.length}`, 'Run the command again.');
      }
      return buf;
    });
  }

  write(h: Handle, data: Buffer, opts?: WriteOptions): Promise<void> {
    const w = this.inner.write as (h: Handle, data: Buffer, opts?: WriteOptions) => Promise<void>;
    return this.run('write', handlePath(h), () => w.call(this.inner, h, data, opts), opts?.signal);
  }

  /** Retries a store of a local file: every attempt opens the file again and sends it from the start. */
  writeFile(h: Handle, localPath: string, opts?: WriteOptions): Promise<void> {
    const w = this.inner.writeFile as (h: Handle, localPath: string, opts?: WriteOptions) => Promise<void>;
    return this.run('write', handlePath(h), () => w.call(this.inner, h, localPath, opts), opts?.signal);
  }

  stagingDir(): string {
    return this.inner.stagingDir();
  }

  remove(h: Handle): Promise<void> {
    return this.run('remove', handlePath(h), () => this.inner.remove(h));
  }

  exists(h: Handle): Promise<boolean> {
    return this.run('exists', handlePath(h), () => this.inner.exists(h));
  }

  create(): Promise<void> {
    return this.run('create', '/', () => this.inner.create());
  }

  /** Lists with retries; a listing that breaks midway starts over and skips names already yielded. */
  async *list(type: FileType): AsyncIterable<FileInfo> {
    const seen = new Set<string>();
    const folder = type === 'config' ? 'config' : `${handlePath({ type, name: 'x'.repeat(64) }).split('/')[0]}/`;
    for (let attempt = 1; ; attempt++) {
      try {
        for await (const fi of this.inner.list(type)) {
          this.connected = true;
          if (seen.has(fi.name)) continue;
          seen.add(fi.name);
          yield fi;
        }
        this.connected = true;
        return;
      } catch (err) {
        if (!isTransientError(err) || this.failsFast(err)) throw err;
        if (attempt >= this.maxTries) throw this.gaveUp('list', folder, attempt, err);
        const delayMs = this.delay(attempt);
        this.logger({ op: 'list', file: folder, location: this.location, attempt, maxTries: this.maxTries, delayMs, error: err });
        await this.sleep(delayMs);
      }
    }
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
