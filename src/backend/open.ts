import type { Backend } from './backend.js';
import { LocalBackend } from './local.js';
import { type Location, parseLocation } from './location.js';
import { RetryBackend, type RetryOptions } from './retry.js';
import type { SftpOptions } from './sftp.js';
import type { RestOptions } from './rest.js';
import type { S3BackendOptions } from './s3.js';

/** Per-kind settings that do not fit in a location string. */
export interface OpenBackendOptions {
  /** SSH settings (identity files, known_hosts, agent); host, user, port and path come from the location. */
  sftp?: Omit<SftpOptions, 'host' | 'path'>;
  /** REST settings (CA file, connections); URL and credentials come from the location. */
  rest?: Omit<RestOptions, 'url'>;
  /** S3 settings (credentials, region, agent); endpoint, bucket and prefix come from the location. */
  s3?: Omit<S3BackendOptions, 'bucket' | 'prefix'>;
  /** Retry policy of remote backends (default: RetryBackend's, failing at once if the server cannot be reached at all on first contact); false turns retries off. */
  retry?: RetryOptions | false;
}

/**
 * Opens the backend for a repository location (a Location or a string in restic's
 * syntax). Remote backends are wrapped in RetryBackend; the connection is made
 * lazily, on the first operation.
 */
export async function openBackend(loc: Location | string, opts: OpenBackendOptions = {}): Promise<Backend> {
  const l = typeof loc === 'string' ? parseLocation(loc) : loc;
  let backend: Backend;
  switch (l.kind) {
    case 'local':
      return new LocalBackend(l.path);
    case 'sftp': {
      const { SftpBackend } = await import('./sftp.js');
      backend = new SftpBackend({
        ...opts.sftp,
        host: l.host,
        path: l.path,
        ...(l.user !== undefined ? { user: l.user } : {}),
        ...(l.port !== undefined ? { port: l.port } : {}),
      });
      break;
    }
    case 'rest': {
      const { RestBackend } = await import('./rest.js');
      backend = new RestBackend({
        ...opts.rest,
        url: l.url,
        ...(l.username !== undefined ? { username: l.username } : {}),
        ...(l.password !== undefined ? { password: l.password } : {}),
      });
      break;
    }
    case 's3': {
      const { S3Backend } = await import('./s3.js');
      // AWS's own hosts are left to the SDK, which picks the regional endpoint.
      const isAws = /(^|\.)amazonaws\.com(\.cn)?(:\d+)?$/.test(new URL(l.endpoint).host);
      backend = new S3Backend({
        ...opts.s3,
        ...(isAws && opts.s3?.endpoint === undefined ? {} : { endpoint: opts.s3?.endpoint ?? l.endpoint }),
        bucket: l.bucket,
        prefix: l.prefix,
      });
      break;
    }
  }
  return opts.retry === false ? backend : new RetryBackend(backend, { failFastUntilConnected: true, ...opts.retry });
}
