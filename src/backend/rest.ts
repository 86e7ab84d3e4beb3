import { promises as fs, createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import tls from 'node:tls';
import { Pool } from 'undici';
import { CairnError, ExitCode, describeError } from '../errors.js';
import { type Backend, type FileInfo, type FileType, type Handle, isStorageId, typeFolders } from './backend.js';
import type { WriteOptions } from './retry.js';
import { systemStagingDir } from './staging.js';

/** How to reach a restic REST server (rest-server, `rclone serve restic`). */
export interface RestOptions {
  /** Base URL of the repository, e.g. "https://backup.lan:8000/alice/"; credentials in it are used for basic auth. */
  url: string;
  username?: string;
  password?: string;
  /** PEM file with extra trusted CA certificates (default $CAIRN_CACERT). */
  caFile?: string;
  /** Parallel connections to the server (default 8). */
  connections?: number;
}

const v2 = 'application/vnd.x.restic.rest.v2';
const uploadChunk = 256 * 1024;

type Method = 'GET' | 'HEAD' | 'POST' | 'DELETE';

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

// TLS verification failures are permanent and need a different remedy than a dead server.
const tlsCodes = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT', 'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID', 'ERR_TLS_CERT_ALTNAME_INVALID', 'CERT_UNTRUSTED',
]);

/** A repository behind a server speaking restic's REST protocol v2, over HTTP(S) with keep-alive connections. */
export class RestBackend implements Backend {
  readonly location: string;
  private readonly base: URL;
  /** The URL as shown in messages: never with the password. */
  private readonly shown: string;
  private readonly auth: string | undefined;
  private readonly opts: RestOptions;
  private poolPromise: Promise<Pool> | undefined;

  constructor(opts: RestOptions) {
    this.opts = opts;
    const u = new URL(opts.url);
    const username = opts.username ?? (u.username ? decodeURIComponent(u.username) : undefined);
    const password = opts.password ?? (u.password ? decodeURIComponent(u.password) : undefined);
    u.username = '';
    u.password = '';
    if (!u.pathname.endsWith('/')) u.pathname += '/';
    this.base = u;
    this.shown = u.toString();
    this.location = `rest:${this.shown}`;
    this.auth = username !== undefined ? `Basic ${Buffer.from(`${username}:${password ?? ''}`).toString('base64')}` : undefined;
  }

  private pool(): Promise<Pool> {
    this.poolPromise ??= (async () => {
      const caFile = this.opts.caFile ?? process.env.CAIRN_CACERT;
      let ca: string[] | undefined;
      if (caFile) {
        try {
          ca = [...tls.rootCertificates, await fs.readFile(caFile, 'utf8')];
        } catch (err) {
          throw new CairnError('tls', `cannot read the CA certificate file ${caFile}: ${describeError(err)}`, 'Check the path given as CA file (or CAIRN_CACERT).');
        }
      }
      return new Pool(this.base.origin, {
        connections: this.opts.connections ?? 8,
        keepAliveTimeout: 30_000,
        headersTimeout: 120_000,
        bodyTimeout: 120_000,
        ...(ca ? { connect: { ca } } : {}),
      });
    })();
    this.poolPromise.catch(() => {
      this.poolPromise = undefined;
    });
    return this.poolPromise;
  }

  private pathOf(h: Handle): string {
    if (h.type === 'config') return 'config';
    return `${typeFolders[h.type]}/${h.name}`;
  }

  private async request(method: Method, rel: string, opts: { headers?: Record<string, string>; body?: Readable; signal?: AbortSignal } = {}): Promise<Reply> {
    const pool = await this.pool();
    const headers: Record<string, string> = { ...opts.headers };
    if (this.auth) headers.authorization = this.auth;
    try {
      const res = await pool.request({
        path: this.base.pathname + rel,
        method,
        headers,
        ...(opts.body ? { body: opts.body } : {}),
        ...(opts.signal ? { signal: opts.signal } : {}),
      });
      const body = method === 'HEAD' ? Buffer.alloc(0) : Buffer.from(await res.body.arrayBuffer());
      if (method === 'HEAD') await res.body.dump();
      return { status: res.statusCode, headers: res.headers, body };
    } catch (err) {
      if (opts.signal?.aborted) throw opts.signal.reason;
      throw this.transportError(err, `${method} ${rel}`);
    }
  }

  private transportError(err: unknown, what: string): CairnError {
    const code = (err as { code?: unknown })?.code;
    if (code === 'ECONNREFUSED') {
      return new CairnError('server-unreachable', `cannot reach the REST server at ${this.shown}: connection refused`, `Check that the server is running and that the URL is right (try: curl -I ${this.shown}config).`, ExitCode.failure, { cause: err });
    }
    if (code === 'ENOTFOUND') {
      return new CairnError('host-not-found', `cannot resolve the host name of the REST server ${this.shown}`, 'Check the host name in the repository URL.', ExitCode.failure, { cause: err });
    }
    if (typeof code === 'string' && tlsCodes.has(code)) {
      return new CairnError('tls', `the TLS certificate of ${this.shown} is not trusted: ${describeError(err)}`, 'Give the server\'s CA certificate (PEM) as CA file or in CAIRN_CACERT, or fix the certificate on the server.', ExitCode.failure, { cause: err });
    }
    if (typeof code === 'string' && /TIMEOUT/.test(code)) {
      return new CairnError('timeout', `the REST server ${this.shown} did not answer ${what} in time`, 'Check the server and the network, then run the command again.', ExitCode.failure, { cause: err });
    }
    return new CairnError('connection-lost', `lost the connection to the REST server ${this.shown} during ${what}: ${describeError(err)}`, `Check that the server at ${this.shown} is running and reachable.`, ExitCode.failure, { cause: err });
  }

  /** Maps a non-2xx reply to a CairnError (h is set when the request was about one file). */
  private statusError(r: Reply, what: string, h?: Handle): CairnError {
    const text = r.body.toString('utf8').trim().slice(0, 200);
    const detail = `HTTP ${r.status}${text ? `: ${text}` : ''}`;
    if (r.status === 401 || r.status === 403) {
      return new CairnError(
        'credentials',
        `the REST server ${this.shown} refused ${what} (${detail}): wrong or missing user name/password`,
        'Check the user and password in the repository URL (rest:https://USER:PASSWORD@host:port/).',
      );
    }
    if (r.status === 404 && h !== undefined) {
      if (h.type === 'config') {
        return new CairnError('no-repository', `there is no repository at ${this.location} (no config file)`, 'Check the repository URL, or create one with `cairn init`.', ExitCode.noRepository);
      }
      return new CairnError('not-found', `${this.pathOf(h)} not found in ${this.location}`, 'The repository is missing a file; run `cairn check`.');
    }
    if (r.status === 429) return new CairnError('server-busy', `the REST server ${this.shown} is busy (${detail}) during ${what}`, 'Wait a moment and run the command again.');
    if (r.status >= 500) return new CairnError('server-error', `the REST server ${this.shown} failed ${what} (${detail})`, 'Check the server\'s logs and free space, then run the command again.');
    return new CairnError('rest-error', `the REST server ${this.shown} rejected ${what} (${detail})`, 'Check the server version and its logs.');
  }

  async create(): Promise<void> {
    const r = await this.request('POST', '?create=true');
    if (r.status !== 200 && r.status !== 201) throw this.statusError(r, 'creating the repository');
  }

  async stat(h: Handle): Promise<FileInfo> {
    const r = await this.request('HEAD', this.pathOf(h));
    if (r.status !== 200) throw this.statusError(r, `stat ${this.pathOf(h)}`, h);
    const len = Number(r.headers['content-length']);
    if (!Number.isFinite(len)) throw new CairnError('rest-error', `the REST server ${this.shown} sent no size for ${this.pathOf(h)}`, 'Check the server version.');
    return { name: h.name, size: len };
  }

  async exists(h: Handle): Promise<boolean> {
    const r = await this.request('HEAD', this.pathOf(h));
    if (r.status === 200) return true;
    if (r.status === 404) return false;
    throw this.statusError(r, `stat ${this.pathOf(h)}`, h);
  }

  async read(h: Handle, offset = 0, length = 0): Promise<Buffer> {
    const what = `read ${this.pathOf(h)}`;
    const headers: Record<string, string> = {};
    if (offset > 0 || length > 0) headers.range = `bytes=${offset}-${length > 0 ? offset + length - 1 : ''}`;
    const r = await this.request('GET', this.pathOf(h), { headers });
    if (r.status === 416) {
      throw new CairnError('short-read', `${this.pathOf(h)}: offset ${offset} is beyond the end of the file on ${this.shown}`, 'The file is truncated; run `cairn check` to find damaged files.');
    }
    if (r.status !== 200 && r.status !== 206) throw this.statusError(r, what, h);
    // A server that ignores Range answers 200 with the whole file.
    let data = r.status === 200 && headers.range ? r.body.subarray(offset, length > 0 ? offset + length : undefined) : r.body;
    if (length > 0 && data.length < length) {
      throw new CairnError('short-read', `${this.pathOf(h)}: wanted ${length} bytes at offset ${offset}, the file on ${this.shown} has only ${data.length}`, 'The file is truncated; run `cairn check` to find damaged files.');
    }
    if (length > 0 && data.length > length) data = data.subarray(0, length);
    return data;
  }

  /**
   * POSTs the file. rest-server stores it under a temporary name and renames it when complete;
   * rclone writes in place but removes the file when the upload breaks off.
   */
  async write(h: Handle, data: Buffer, opts: WriteOptions = {}): Promise<void> {
    const what = `write ${this.pathOf(h)}`;
    opts.signal?.throwIfAborted();
    // A stream body lets an abort stop the upload midway (the server then discards the partial file).
    const body = Readable.from(
      (function* () {
        for (let off = 0; off < data.length; off += uploadChunk) {
          opts.signal?.throwIfAborted();
          const piece = data.subarray(off, Math.min(off + uploadChunk, data.length));
          yield piece;
          opts.onProgress?.(off + piece.length);
        }
      })(),
      { objectMode: false },
    );
    const r = await this.request('POST', this.pathOf(h), {
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(data.length) },
      body,
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
    if (r.status !== 200 && r.status !== 201) throw this.statusError(r, what, h);
  }

  /** Packs are staged in the system's temp folder and streamed from there. */
  stagingDir(): string {
    return systemStagingDir();
  }

  /** POSTs a local file, streamed from disk (a new stream on every call, so a retry sends it again from the start). */
  async writeFile(h: Handle, localPath: string, opts: WriteOptions = {}): Promise<void> {
    const what = `write ${this.pathOf(h)}`;
    opts.signal?.throwIfAborted();
    const size = (await fs.stat(localPath)).size;
    const file = createReadStream(localPath, { highWaterMark: uploadChunk });
    let sent = 0;
    const body = Readable.from(
      (async function* () {
        try {
          for await (const piece of file as AsyncIterable<Buffer>) {
            opts.signal?.throwIfAborted();
            yield piece;
            sent += piece.length;
            opts.onProgress?.(sent);
          }
        } finally {
          file.destroy();
        }
      })(),
      { objectMode: false },
    );
    const r = await this.request('POST', this.pathOf(h), {
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(size) },
      body,
      ...(opts.signal ? { signal: opts.signal } : {}),
    }).finally(() => file.destroy());
    if (r.status !== 200 && r.status !== 201) throw this.statusError(r, what, h);
  }

  async remove(h: Handle): Promise<void> {
    const r = await this.request('DELETE', this.pathOf(h));
    if (r.status === 200 || r.status === 204 || r.status === 404) return;
    throw this.statusError(r, `remove ${this.pathOf(h)}`);
  }

  async *list(type: FileType): AsyncIterable<FileInfo> {
    if (type === 'config') {
      const h: Handle = { type, name: 'config' };
      if (await this.exists(h)) yield await this.stat(h);
      return;
    }
    const folder = `${typeFolders[type]}/`;
    const r = await this.request('GET', folder, { headers: { accept: v2 } });
    if (r.status === 404) return;
    if (r.status !== 200) throw this.statusError(r, `list ${folder}`);
    let entries: unknown;
    try {
      entries = JSON.parse(r.body.toString('utf8'));
    } catch {
      throw new CairnError('rest-error', `the REST server ${this.shown} sent a listing of ${folder} that is not JSON`, 'Check that the URL points to a restic REST server.');
    }
    if (!Array.isArray(entries)) throw new CairnError('rest-error', `the REST server ${this.shown} sent a listing of ${folder} that is not a list`, 'Check that the URL points to a restic REST server.');
    for (const e of entries as unknown[]) {
      if (typeof e === 'string') {
        // Protocol v1 servers send names only.
        if (!isStorageId(e)) continue;
        const fi = await this.stat({ type, name: e });
        if (type === 'lock' && fi.size === 0) continue;
        yield fi;
      } else if (typeof e === 'object' && e !== null) {
        const { name, size } = e as { name?: unknown; size?: unknown };
        if (typeof name !== 'string' || typeof size !== 'number' || !isStorageId(name)) continue;
        if (type === 'lock' && size === 0) continue;
        yield { name, size };
      }
    }
  }

  async close(): Promise<void> {
    const p = this.poolPromise;
    this.poolPromise = undefined;
    const pool = await p?.catch(() => undefined);
    await pool?.close();
  }
}
