// Lock files (format §12): Go json.Marshal of restic's Lock struct.
import { CairnError, ExitCode } from '../errors.js';
import { GoJsonObject } from './goJson.js';
import { canonicalGoTime, isGoTime } from './timeFormat.js';

/** A lock file's content, with restic's field names and order. */
export interface LockData {
  /** RFC 3339 time the lock was written (or last refreshed). */
  time: string;
  exclusive: boolean;
  hostname: string;
  username: string;
  pid: number;
  /** Omitted when 0. */
  uid?: number;
  /** Omitted when 0. */
  gid?: number;
}

/** A lock file's plaintext as restic writes it (no trailing newline; uid/gid omitted when 0). */
export function encodeLock(lock: LockData): Buffer {
  let time: string;
  try {
    time = canonicalGoTime(lock.time);
  } catch {
    throw new RangeError(`lock time ${JSON.stringify(lock.time)} is not an RFC 3339 time`);
  }
  const text = new GoJsonObject()
    .raw('time', '"' + time + '"')
    .bool('exclusive', lock.exclusive)
    .string('hostname', lock.hostname)
    .string('username', lock.username)
    .int('pid', lock.pid)
    .uint32('uid', lock.uid, true)
    .uint32('gid', lock.gid, true)
    .toString();
  return Buffer.from(text, 'utf8');
}

/**
 * Decodes a lock file's plaintext (unknown fields ignored, missing ones as
 * Go's zero values). Malformed input is a CairnError 'bad-lock'.
 */
export function decodeLock(buf: Uint8Array, name?: string): LockData {
  const which = name ? `lock file ${name.slice(0, 8)}` : 'a lock file';
  const bad = (detail: string): CairnError =>
    new CairnError(
      'bad-lock',
      `${which} is malformed: ${detail}`,
      'If no other backup or maintenance is running, remove all locks with `restic unlock --remove-all`.',
      ExitCode.locked,
    );
  let root: unknown;
  try {
    root = JSON.parse(Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength).toString('utf8'));
  } catch (err) {
    throw bad(`not valid JSON (${(err as Error).message})`);
  }
  if (typeof root !== 'object' || root === null || Array.isArray(root)) throw bad('not a JSON object');
  const o = root as Record<string, unknown>;
  const str = (k: string): string => {
    const v = o[k];
    if (v === undefined || v === null) return '';
    if (typeof v !== 'string') throw bad(`"${k}" is not a string`);
    return v;
  };
  const int = (k: string, min: number, max: number): number => {
    const v = o[k];
    if (v === undefined || v === null) return 0;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw bad(`"${k}" is not a valid integer`);
    return v;
  };
  // A missing time reads as Go's zero time, which makes the lock stale.
  const time = o['time'] ?? '0001-01-01T00:00:00Z';
  if (typeof time !== 'string' || !isGoTime(time)) throw bad('"time" is not an RFC 3339 time');
  const exclusive = o['exclusive'] ?? false;
  if (typeof exclusive !== 'boolean') throw bad('"exclusive" is not a boolean');
  const lock: LockData = { time, exclusive, hostname: str('hostname'), username: str('username'), pid: int('pid', -(2 ** 53), 2 ** 53) };
  const uid = int('uid', 0, 0xffffffff);
  if (uid) lock.uid = uid;
  const gid = int('gid', 0, 0xffffffff);
  if (gid) lock.gid = gid;
  return lock;
}
