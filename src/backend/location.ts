import { CairnError } from '../errors.js';

/** A repository on local disk. */
export interface LocalLocation {
  kind: 'local';
  path: string;
}

/** A repository on an SFTP server; `path` is relative to the login directory unless it starts with "/". */
export interface SftpLocation {
  kind: 'sftp';
  host: string;
  user?: string;
  port?: number;
  path: string;
}

/** A repository in an S3 bucket (optionally under a prefix). */
export interface S3Location {
  kind: 's3';
  /** Scheme, host and port, e.g. "https://s3.amazonaws.com" or "http://127.0.0.1:9000". */
  endpoint: string;
  bucket: string;
  /** Key prefix without leading/trailing slashes; "" for the bucket root. */
  prefix: string;
}

/** A repository behind a restic REST server. */
export interface RestLocation {
  kind: 'rest';
  /** Base URL without credentials, always ending in "/". */
  url: string;
  username?: string;
  password?: string;
}

/** Where a repository lives, parsed from restic's location syntax. */
export type Location = LocalLocation | SftpLocation | S3Location | RestLocation;

const acceptedForms = [
  'a path: /srv/backup or local:/srv/backup',
  'sftp:user@host:/abs/path, sftp:host:relative/path, sftp://user@host:2222//abs/path',
  's3:https://host[:port]/bucket[/prefix] or s3:host/bucket[/prefix] (https)',
  'rest:http(s)://[user:pass@]host:port/[path]',
].join('; ');

// Backends restic knows that cairn does not implement: name them instead of treating "b2:x" as a local folder.
const unsupportedSchemes = ['b2', 'azure', 'gs', 'swift', 'rclone', 'smb'];

function bad(input: string, why: string): CairnError {
  return new CairnError('bad-location', `cannot understand repository location "${redact(input)}": ${why}`, `Use one of: ${acceptedForms}.`);
}

/** Hides a password embedded in a location string before it is shown to anybody. */
function redact(s: string): string {
  return s.replace(/(\/\/[^/@:]*:)[^/@]*@/, '$1***@');
}

/** Parses a repository location in restic's syntax (sftp:, s3:, rest:, local:, or a plain path). */
export function parseLocation(input: string): Location {
  const s = input.trim();
  if (s === '') throw bad(input, 'it is empty');
  if (s.startsWith('local:')) {
    const p = s.slice('local:'.length);
    if (p === '') throw bad(input, 'local: needs a path');
    return { kind: 'local', path: p };
  }
  if (s.startsWith('sftp:')) return parseSftp(input, s.slice('sftp:'.length));
  if (s.startsWith('s3:')) return parseS3(input, s.slice('s3:'.length));
  if (s.startsWith('rest:')) return parseRest(input, s.slice('rest:'.length));
  const scheme = /^([a-z][a-z0-9]*):/.exec(s)?.[1];
  if (scheme !== undefined && unsupportedSchemes.includes(scheme)) {
    throw new CairnError('unsupported', `repository location "${redact(input)}" uses the ${scheme} backend, which cairn does not support`, `Use one of: ${acceptedForms}.`);
  }
  return { kind: 'local', path: s };
}

function parsePort(input: string, text: string): number {
  if (!/^\d{1,5}$/.test(text) || Number(text) < 1 || Number(text) > 65535) throw bad(input, `"${text}" is not a port number`);
  return Number(text);
}

function parseSftp(input: string, rest: string): SftpLocation {
  if (rest.startsWith('//')) {
    // URL form: sftp://user@host:port/relative or sftp://user@host:port//absolute (as restic).
    const m = /^\/\/(?:([^@/]+)@)?(\[[^\]]+\]|[^:/]+)(?::([^/]*))?(\/.*)?$/.exec(rest);
    if (!m) throw bad(input, 'expected sftp://[user@]host[:port]/path');
    const [, user, host, port, urlPath] = m;
    const p = (urlPath ?? '').slice(1);
    if (p === '' || p === '/') throw bad(input, 'the path of the repository is missing');
    return {
      kind: 'sftp',
      host: unbracket(host!),
      ...(user !== undefined ? { user: decodeURIComponent(user) } : {}),
      ...(port !== undefined && port !== '' ? { port: parsePort(input, port) } : {}),
      path: p,
    };
  }
  // scp-like form: [user@]host:path (no port; use the URL form for one).
  const m = /^(?:([^@/:]+)@)?(\[[^\]]+\]|[^:/@]+):(.*)$/.exec(rest);
  if (!m) throw bad(input, 'expected sftp:[user@]host:/path');
  const [, user, host, p] = m;
  if (p === '') throw bad(input, 'the path of the repository is missing');
  return { kind: 'sftp', host: unbracket(host!), ...(user !== undefined ? { user } : {}), path: p! };
}

function unbracket(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

function parseS3(input: string, rest: string): S3Location {
  let endpoint: string;
  let bucketAndPrefix: string;
  if (/^https?:\/\//.test(rest)) {
    let u: URL;
    try {
      u = new URL(rest);
    } catch {
      throw bad(input, 'the endpoint URL is malformed');
    }
    if (u.username || u.password) throw bad(input, 'put S3 keys in AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, not in the URL');
    endpoint = `${u.protocol}//${u.host}`;
    bucketAndPrefix = decodeURIComponent(u.pathname);
  } else {
    if (rest.startsWith('/')) throw bad(input, 'expected s3:host/bucket');
    const slash = rest.indexOf('/');
    if (slash <= 0) throw bad(input, 'the bucket is missing');
    endpoint = `https://${rest.slice(0, slash)}`;
    bucketAndPrefix = rest.slice(slash);
  }
  const parts = bucketAndPrefix.split('/').filter((x) => x !== '');
  const bucket = parts[0];
  if (bucket === undefined) throw bad(input, 'the bucket is missing');
  return { kind: 's3', endpoint, bucket, prefix: parts.slice(1).join('/') };
}

function parseRest(input: string, rest: string): RestLocation {
  if (!/^https?:\/\//.test(rest)) throw bad(input, 'expected rest:http://host:port/ or rest:https://host:port/');
  let u: URL;
  try {
    u = new URL(rest);
  } catch {
    throw bad(input, 'the server URL is malformed');
  }
  if (u.search || u.hash) throw bad(input, 'the server URL must not have a query or fragment');
  const username = u.username ? decodeURIComponent(u.username) : undefined;
  const password = u.password ? decodeURIComponent(u.password) : undefined;
  u.username = '';
  u.password = '';
  let url = u.toString();
  if (!url.endsWith('/')) url += '/';
  return { kind: 'rest', url, ...(username !== undefined ? { username } : {}), ...(password !== undefined ? { password } : {}) };
}

/** The location in restic's syntax, with any password hidden; suitable for messages and logs. */
export function formatLocation(loc: Location): string {
  switch (loc.kind) {
    case 'local':
      return loc.path;
    case 'sftp': {
      const host = loc.host.includes(':') ? `[${loc.host}]` : loc.host;
      const user = loc.user !== undefined ? `${loc.user}@` : '';
      if (loc.port !== undefined) return `sftp://${user}${host}:${loc.port}/${loc.path}`;
      return `sftp:${user}${host}:${loc.path}`;
    }
    case 's3':
      return `s3:${loc.endpoint}/${loc.bucket}${loc.prefix ? `/${loc.prefix}` : ''}`;
    case 'rest': {
      if (loc.username === undefined) return `rest:${loc.url}`;
      const u = new URL(loc.url);
      u.username = encodeURIComponent(loc.username);
      if (loc.password !== undefined) u.password = '***';
      return `rest:${u.toString()}`;
    }
  }
}
