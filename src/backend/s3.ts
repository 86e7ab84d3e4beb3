import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import type { Agent as HttpAgent } from 'node:http';
import type { Agent as HttpsAgent } from 'node:https';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
  type BucketLocationConstraint,
} from '@aws-sdk/client-s3';
import { CairnError, ExitCode } from '../errors.js';
import { type Backend, type FileInfo, type FileType, type Handle, handlePath, isStorageId, typeFolders } from './backend.js';
import type { WriteOptions } from './retry.js';
import { promises as fs } from 'node:fs';
import { systemStagingDir } from './staging.js';

/** How to reach a bucket, and where in it the repository lives. */
export interface S3BackendOptions {
  /** e.g. "http://127.0.0.1:9000"; omitted for AWS S3 (the SDK picks the regional endpoint). */
  endpoint?: string;
  bucket: string;
  /** Folder inside the bucket holding the repository ("" = bucket root). */
  prefix?: string;
  /** Defaults to AWS_REGION, then AWS_DEFAULT_REGION (restic's name), then "us-east-1". */
  region?: string;
  /** Path-style URLs (http://host/bucket/key). Defaults to true for a non-AWS endpoint, as restic does. */
  forcePathStyle?: boolean;
  /** Defaults to the SDK's chain: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/AWS_SESSION_TOKEN (the names restic reads too), AWS_PROFILE and ~/.aws, SSO, instance roles. */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** Objects larger than this are sent as a multipart upload (default 16 MiB). */
  multipartThreshold?: number;
  /** Size of each multipart part (default 8 MiB; S3 requires at least 5 MiB for all but the last). */
  partSize?: number;
  /** Parts of one object uploaded at the same time (default 2). */
  partConcurrency?: number;
  /** Attempts per request including retries of transient failures (SDK default 3). */
  maxAttempts?: number;
  /** A custom agent, e.g. an https.Agent trusting a private CA, or one with its own DNS lookup. */
  agent?: HttpAgent | HttpsAgent;
}

const MiB = 1024 * 1024;

/** Network error codes that mean "the endpoint cannot be reached". */
const unreachableCodes = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'ECONNRESET', 'TimeoutError']);
const credentialNames = new Set(['AccessDenied', 'InvalidAccessKeyId', 'SignatureDoesNotMatch', 'Forbidden', 'InvalidToken', 'ExpiredToken', 'CredentialsProviderError']);

/**
 * A repository in an S3-compatible bucket (AWS, MinIO, Ceph radosgw, ...), with restic's
 * object layout under the prefix: `<prefix>/config`, `<prefix>/keys/<id>`, `<prefix>/data/ab/<id>`, ...
 */
export class S3Backend implements Backend {
  readonly location: string;
  /** The underlying SDK client, for callers needing S3 features beyond the Backend seam (versioning, object lock). */
  readonly client: S3Client;
  readonly bucket: string;
  /** The prefix with a trailing "/" ("" for the bucket root). */
  readonly keyPrefix: string;
  private readonly endpointLabel: string;
  private readonly multipartThreshold: number;
  private readonly partSize: number;
  private readonly partConcurrency: number;
  private bucketSeen = false;

  constructor(opts: S3BackendOptions) {
    // cairn pins the SDK on purpose (Node 20); its "will require node >= 22" notice would print on every run.
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
    this.bucket = opts.bucket;
    const prefix = (opts.prefix ?? '').replace(/^\/+|\/+$/g, '');
    this.keyPrefix = prefix === '' ? '' : `${prefix}/`;
    this.endpointLabel = opts.endpoint ?? 'AWS S3';
    this.location = `s3:${opts.endpoint ?? 's3.amazonaws.com'}/${opts.bucket}${prefix === '' ? '' : `/${prefix}`}`;
    this.multipartThreshold = opts.multipartThreshold ?? 16 * MiB;
    this.partSize = opts.partSize ?? 8 * MiB;
    this.partConcurrency = Math.max(1, opts.partConcurrency ?? 2);
    const isAws = opts.endpoint === undefined || /\.amazonaws\.com(\.cn)?(:\d+)?(\/|$)/.test(opts.endpoint);
    const agent = opts.agent;
    this.client = new S3Client({
      endpoint: opts.endpoint,
      region: opts.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1',
      forcePathStyle: opts.forcePathStyle ?? !isAws,
      credentials: opts.credentials,
      maxAttempts: opts.maxAttempts,
      // Only checksum when S3 demands it: RGW and other S3 servers reject or mis-store the
      // aws-chunked bodies the SDK sends otherwise. Integrity comes from Content-MD5 on uploads.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      requestHandler: {
        connectionTimeout: 10_000,
        socketTimeout: 120_000,
        ...(agent === undefined ? {} : isHttps(opts.endpoint) ? { httpsAgent: agent as HttpsAgent } : { httpAgent: agent as HttpAgent }),
      },
    });
  }

  /** The object key of a file: restic's layout under the prefix. */
  key(h: Handle): string {
    return this.keyPrefix + handlePath(h);
  }

  async create(): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
      this.bucketSeen = true;
      return;
    } catch (err) {
      if (statusOf(err) !== 404) throw this.mapError(err, 'check bucket');
    }
    const region = await this.client.config.region();
    try {
      // us-east-1 is the default location and must not be named; every other region must be.
      const config = region === 'us-east-1' ? undefined : { LocationConstraint: region as BucketLocationConstraint };
      await this.client.send(new CreateBucketCommand({ Bucket: this.bucket, CreateBucketConfiguration: config }));
    } catch (err) {
      if (nameOf(err) !== 'BucketAlreadyOwnedByYou') {
        if (nameOf(err) === 'BucketAlreadyExists') {
          throw new CairnError('bucket-taken', `bucket "${this.bucket}" at ${this.endpointLabel} belongs to someone else`, 'Bucket names are global on this server; choose another bucket name in the repository URL.', ExitCode.failure, { cause: err });
        }
        throw this.mapError(err, 'create bucket');
      }
    }
    this.bucketSeen = true;
  }

  async stat(h: Handle): Promise<FileInfo> {
    try {
      const res = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.key(h) }));
      this.bucketSeen = true;
      return { name: h.name, size: res.ContentLength ?? 0 };
    } catch (err) {
      throw await this.mapMissing(err, 'stat', h);
    }
  }

  async exists(h: Handle): Promise<boolean> {
    try {
      await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.key(h) }));
      return true;
    } catch (err) {
      // A missing bucket also means "no such file": init then creates it.
      if (statusOf(err) === 404) return false;
      throw this.mapError(err, 'stat', h);
    }
  }

  async read(h: Handle, offset = 0, length = 0): Promise<Buffer> {
    const range = offset === 0 && length === 0 ? undefined : length === 0 ? `bytes=${offset}-` : `bytes=${offset}-${offset + length - 1}`;
    let body: Uint8Array;
    try {
      const res = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.key(h), Range: range }));
      if (res.Body === undefined) throw new Error('empty response body');
      body = await res.Body.transformToByteArray();
      this.bucketSeen = true;
    } catch (err) {
      // 416: the range starts at or past the end. Reading "to the end" from there is empty, as on local disk.
      if (statusOf(err) === 416) {
        if (length === 0) return Buffer.alloc(0);
        throw this.shortRead(h, offset, length, 0, err);
      }
      throw await this.mapMissing(err, 'read', h);
    }
    const buf = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
    if (length > 0 && buf.length < length) throw this.shortRead(h, offset, length, buf.length);
    return length > 0 && buf.length > length ? buf.subarray(0, length) : buf;
  }

  /**
   * Stores a file atomically: one PUT up to the multipart threshold, else a multipart upload that
   * becomes visible only when completed. Honours `opts.signal` (abort) and reports `opts.onProgress`.
   */
  async write(h: Handle, data: Buffer, opts: WriteOptions = {}): Promise<void> {
    const key = this.key(h);
    try {
      opts.signal?.throwIfAborted();
      if (data.length <= this.multipartThreshold) {
        // A single PUT is atomic: the object appears whole or not at all (a cut body is discarded).
        const cmd = new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: data, ContentLength: data.length, ContentMD5: md5(data) });
        if (opts.onProgress) reportProgress(cmd, opts.onProgress);
        await this.client.send(cmd, { abortSignal: opts.signal });
      } else {
        await this.writeMultipart(key, data, opts);
      }
      this.bucketSeen = true;
    } catch (err) {
      if (opts.signal?.aborted) throw opts.signal.reason;
      throw this.mapError(err, 'write', h);
    }
  }

  /** Packs are staged in the system's temp folder. */
  stagingDir(): string {
    return systemStagingDir();
  }

  /**
   * Stores a local file. It is read into memory for the upload (the SDK signs a Buffer body and
   * resends it on its own retries): bounded by the repository's upload slots, not by the backup.
   */
  async writeFile(h: Handle, localPath: string, opts: WriteOptions = {}): Promise<void> {
    opts.signal?.throwIfAborted();
    await this.write(h, await fs.readFile(localPath), opts);
  }

  /** Upload in parts; the object becomes visible only on Complete, and a failure aborts the upload. */
  private async writeMultipart(key: string, data: Buffer, opts: WriteOptions): Promise<void> {
    const signal = opts.signal;
    const created = await this.client.send(new CreateMultipartUploadCommand({ Bucket: this.bucket, Key: key }), { abortSignal: signal });
    const uploadId = created.UploadId;
    if (uploadId === undefined) throw new Error('CreateMultipartUpload returned no UploadId');
    try {
      const count = Math.ceil(data.length / this.partSize);
      const etags: string[] = new Array(count);
      const sentPerPart = new Array<number>(count).fill(0);
      let next = 0;
      let failed = false;
      const worker = async (): Promise<void> => {
        while (!failed && next < count) {
          const i = next++;
          const part = data.subarray(i * this.partSize, Math.min(data.length, (i + 1) * this.partSize));
          try {
            const cmd = new UploadPartCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId, PartNumber: i + 1, Body: part, ContentLength: part.length, ContentMD5: md5(part) });
            const onProgress = opts.onProgress;
            if (onProgress) {
              reportProgress(cmd, (sent) => {
                sentPerPart[i] = sent;
                onProgress(sentPerPart.reduce((a, b) => a + b, 0));
              });
            }
            const res = await this.client.send(cmd, { abortSignal: signal });
            if (res.ETag === undefined) throw new Error(`UploadPart ${i + 1} returned no ETag`);
            etags[i] = res.ETag;
          } catch (err) {
            failed = true;
            throw err;
          }
        }
      };
      const results = await Promise.allSettled(Array.from({ length: Math.min(this.partConcurrency, count) }, worker));
      const rejected = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (rejected) throw rejected.reason;
      const parts = etags.map((ETag, i) => ({ ETag, PartNumber: i + 1 }));
      await this.client.send(new CompleteMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId, MultipartUpload: { Parts: parts } }), { abortSignal: signal });
    } catch (err) {
      // Abort frees the stored parts; if even that fails, the server's lifecycle rules are the last resort.
      await this.client.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId })).catch(() => {});
      throw err;
    }
  }

  async remove(h: Handle): Promise<void> {
    try {
      // DeleteObject succeeds for a missing key, matching the local backend.
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.key(h) }));
    } catch (err) {
      throw this.mapError(err, 'remove', h);
    }
  }

  async *list(type: FileType): AsyncIterable<FileInfo> {
    if (type === 'config') {
      const h: Handle = { type, name: 'config' };
      if (await this.exists(h)) yield await this.stat(h);
      return;
    }
    const folder = `${this.keyPrefix}${typeFolders[type]}/`;
    let token: string | undefined;
    do {
      let res;
      try {
        res = await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: folder, ContinuationToken: token }));
      } catch (err) {
        throw this.mapError(err, 'list');
      }
      this.bucketSeen = true;
      for (const obj of res.Contents ?? []) {
        if (obj.Key === undefined) continue;
        const rel = obj.Key.slice(folder.length);
        let name = rel;
        if (type === 'pack') {
          // data/<first two hex chars>/<id>
          const slash = rel.indexOf('/');
          if (slash !== 2 || !/^[0-9a-f]{2}$/.test(rel.slice(0, 2))) continue;
          name = rel.slice(3);
        }
        if (!isStorageId(name)) continue;
        const size = obj.Size ?? 0;
        if (type === 'lock' && size === 0) continue;
        yield { name, size };
      }
      token = res.IsTruncated ? res.NextContinuationToken : undefined;
    } while (token !== undefined);
  }

  async close(): Promise<void> {
    this.client.destroy();
  }

  /** Like mapError, but tells a missing object from a missing bucket (HEAD answers both with a bare 404). */
  private async mapMissing(err: unknown, op: string, h: Handle): Promise<unknown> {
    if (statusOf(err) !== 404 || nameOf(err) === 'NoSuchBucket' || nameOf(err) === 'NoSuchKey' || this.bucketSeen) return this.mapError(err, op, h);
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
      this.bucketSeen = true;
    } catch (bucketErr) {
      if (statusOf(bucketErr) === 404) return this.noBucket(bucketErr);
    }
    return this.mapError(err, op, h);
  }

  private noBucket(cause: unknown): CairnError {
    return new CairnError('no-bucket', `bucket "${this.bucket}" does not exist at ${this.endpointLabel}`, 'Check the bucket name in the repository URL, or create the repository (and bucket) with `cairn init`.', ExitCode.noRepository, { cause });
  }

  private shortRead(h: Handle, offset: number, length: number, got: number, cause?: unknown): CairnError {
    return new CairnError('short-read', `${this.key(h)}: wanted ${length === 0 ? 'data' : `${length} bytes`} at offset ${offset}, object has only ${got}`, 'The object is truncated; run `cairn check` to find damaged files.', ExitCode.failure, { cause });
  }

  /** One CairnError for anything the SDK or the network throws. */
  private mapError(err: unknown, op: string, h?: Handle): unknown {
    if (err instanceof CairnError) return err;
    const name = nameOf(err);
    const status = statusOf(err);
    const netCode = networkCode(err);
    const what = h === undefined ? `bucket "${this.bucket}"` : this.key(h);
    if (netCode !== undefined) {
      return new CairnError('unreachable', `cannot reach S3 endpoint ${this.endpointLabel} (${netCode})`, 'Check that the S3 server is running and that the endpoint in the repository URL (scheme, host, port) is right.', ExitCode.failure, { cause: err });
    }
    if (name === 'NoSuchBucket') return this.noBucket(err);
    if (name === 'CredentialsProviderError') {
      return new CairnError('credentials', `no S3 credentials found for ${this.endpointLabel}`, 'Set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN for temporary keys), or AWS_PROFILE.', ExitCode.failure, { cause: err });
    }
    if (status === 403 || credentialNames.has(name)) {
      return new CairnError('credentials', `S3 at ${this.endpointLabel} refused access to ${what} (${name || `HTTP ${status}`})`, `Check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE), and that this key may use bucket "${this.bucket}".`, ExitCode.failure, { cause: err });
    }
    if (status === 301 || name === 'PermanentRedirect' || name === 'AuthorizationHeaderMalformed') {
      return new CairnError('wrong-region', `bucket "${this.bucket}" is in another region than the one configured (${name || status})`, 'Set AWS_DEFAULT_REGION (or AWS_REGION) to the bucket\'s region.', ExitCode.failure, { cause: err });
    }
    if (h !== undefined && (status === 404 || name === 'NoSuchKey' || name === 'NotFound')) {
      if (h.type === 'config') {
        return new CairnError('no-repository', `${this.location} is not a cairn/restic repository (no config object)`, 'Check the bucket and prefix in the repository URL, or create one with `cairn init`.', ExitCode.noRepository, { cause: err });
      }
      return new CairnError('not-found', `${this.key(h)} not found in ${this.location}`, 'The repository is missing a file; run `cairn check`.', ExitCode.failure, { cause: err });
    }
    const detail = err instanceof Error ? err.message : String(err);
    return new CairnError('s3-error', `S3 ${op} of ${what} at ${this.endpointLabel} failed: ${name ? `${name}: ` : ''}${detail}`, 'Retry later; if it persists, check the S3 server\'s logs and status.', ExitCode.failure, { cause: err });
  }
}

function isHttps(endpoint: string | undefined): boolean {
  return endpoint === undefined || endpoint.startsWith('https:');
}

const progressChunk = 256 * 1024;

/**
 * Reports upload progress of a command whose Body is a Buffer. Runs after retry and signing, on every
 * attempt: the Buffer (signed, so retries can resend it) is sent as a stream of the same bytes.
 */
function reportProgress(cmd: PutObjectCommand | UploadPartCommand, onProgress: (bytesSent: number) => void): void {
  const mw = <A extends { request: unknown }, R>(next: (args: A) => Promise<R>) =>
    async (args: A): Promise<R> => {
      const req = args.request as { body?: unknown };
      if (Buffer.isBuffer(req.body)) req.body = progressStream(req.body, onProgress);
      return next(args);
    };
  const where = { step: 'finalizeRequest', priority: 'low', name: 'cairnUploadProgress' } as const;
  if (cmd instanceof PutObjectCommand) cmd.middlewareStack.add(mw, where);
  else cmd.middlewareStack.add(mw, where);
}

/** The bytes of `body` as a stream, calling onProgress with the running total as each piece is taken. */
function progressStream(body: Buffer, onProgress: (bytesSent: number) => void): Readable {
  return Readable.from(
    (function* () {
      for (let off = 0; off < body.length; off += progressChunk) {
        const piece = body.subarray(off, off + progressChunk);
        yield piece;
        onProgress(off + piece.length);
      }
    })(),
    { objectMode: false },
  );
}

function md5(data: Buffer): string {
  return createHash('md5').update(data).digest('base64');
}

function nameOf(err: unknown): string {
  if (typeof err !== 'object' || err === null) return '';
  const e = err as { name?: unknown; Code?: unknown };
  if (typeof e.Code === 'string') return e.Code;
  // The SDK names an error it could not parse (a HEAD reply has no body) "Unknown": say nothing rather than that.
  return typeof e.name === 'string' && e.name !== 'Error' && e.name !== 'Unknown' ? e.name : '';
}

function statusOf(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const meta = (err as { $metadata?: { httpStatusCode?: unknown } }).$metadata;
  return typeof meta?.httpStatusCode === 'number' ? meta.httpStatusCode : undefined;
}

/** The network error code behind an SDK failure, looking through causes and AggregateErrors. */
function networkCode(err: unknown, depth = 0): string | undefined {
  if (typeof err !== 'object' || err === null || depth > 4) return undefined;
  if (statusOf(err) !== undefined) return undefined; // the server answered
  const e = err as { code?: unknown; name?: unknown; cause?: unknown; errors?: unknown };
  if (typeof e.code === 'string' && unreachableCodes.has(e.code)) return e.code;
  if (typeof e.name === 'string' && unreachableCodes.has(e.name)) return e.name;
  if (Array.isArray(e.errors)) {
    for (const sub of e.errors) {
      const c = networkCode(sub, depth + 1);
      if (c !== undefined) return c;
    }
  }
  return networkCode(e.cause, depth + 1);
}
