// Snapshot files (format §9): Go json.Marshal of restic's Snapshot struct,
// no trailing newline; and the object `restic snapshots --json` prints.
import { CairnError } from '../errors.js';
import { GoJsonObject, goJsonStringArray } from './goJson.js';
import type { Snapshot, SnapshotData, SnapshotSummary } from './snapshot.js';
import { canonicalGoTime, isGoTime } from './timeFormat.js';

const ID_RE = /^[0-9a-f]{64}$/;
const LOOSE_ID_RE = /^[0-9a-fA-F]{64}$/;

/** The summary fields in restic's order (all always written). */
const SUMMARY_COUNTERS = [
  'files_new',
  'files_changed',
  'files_unmodified',
  'dirs_new',
  'dirs_changed',
  'dirs_unmodified',
  'data_blobs',
  'tree_blobs',
  'data_added',
  'data_added_packed',
  'total_files_processed',
  'total_bytes_processed',
] as const satisfies readonly (keyof SnapshotSummary)[];

function idJson(id: string | undefined, what: string): string | undefined {
  if (id === undefined || id === '') return undefined;
  if (!ID_RE.test(id)) throw new RangeError(`snapshot ${what} ${JSON.stringify(id)} is not a 64-digit lowercase hex id`);
  return '"' + id + '"';
}

function timeJson(t: string, what: string): string {
  try {
    return '"' + canonicalGoTime(t) + '"';
  } catch {
    throw new RangeError(`snapshot ${what} ${JSON.stringify(t)} is not an RFC 3339 time`);
  }
}

function summaryJson(s: SnapshotSummary | undefined): string | undefined {
  if (s === undefined) return undefined;
  const o = new GoJsonObject().raw('backup_start', timeJson(s.backup_start, 'summary.backup_start')).raw('backup_end', timeJson(s.backup_end, 'summary.backup_end'));
  for (const k of SUMMARY_COUNTERS) o.uint(k, s[k]);
  return o.toString();
}

/** The snapshot's fields (§9 order, omitempty) into `o`. */
function addSnapshotFields(o: GoJsonObject, s: SnapshotData): GoJsonObject {
  return o
    .raw('time', timeJson(s.time, 'time'))
    .raw('parent', idJson(s.parent, 'parent'))
    .raw('tree', idJson(s.tree, 'tree') ?? 'null')
    .raw('paths', goJsonStringArray(s.paths))
    .string('hostname', s.hostname, true)
    .string('username', s.username, true)
    .uint32('uid', s.uid, true)
    .uint32('gid', s.gid, true)
    .stringArray('excludes', s.excludes, true)
    .stringArray('tags', s.tags, true)
    .raw('original', idJson(s.original, 'original'))
    .string('program_version', s.program_version, true)
    .raw('summary', summaryJson(s.summary));
}

/**
 * A snapshot file's plaintext exactly as restic's json.Marshal writes it:
 * fields in §9 order, empty ones omitted, no trailing newline.
 */
export function encodeSnapshot(s: SnapshotData): Buffer {
  return Buffer.from(addSnapshotFields(new GoJsonObject(), s).toString(), 'utf8');
}

function bad(id: string, detail: string): CairnError {
  return new CairnError(
    'bad-snapshot',
    `snapshot ${id.slice(0, 8)} is malformed: ${detail}`,
    `Run \`restic check\`; if only this snapshot is damaged, remove it with \`restic forget ${id.slice(0, 8)}\`.`,
  );
}

/**
 * Decodes a snapshot file's plaintext (unknown fields ignored, missing
 * optional fields left out) and attaches its storage id. Malformed input is
 * a CairnError ('bad-snapshot').
 */
export function decodeSnapshot(buf: Uint8Array, id: string): Snapshot {
  let root: unknown;
  try {
    root = JSON.parse(Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength).toString('utf8'));
  } catch (err) {
    throw bad(id, `not valid JSON (${(err as Error).message})`);
  }
  if (typeof root !== 'object' || root === null || Array.isArray(root)) throw bad(id, 'not a JSON object');
  const o = root as Record<string, unknown>;

  const str = (k: string): string | undefined => {
    const v = o[k];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'string') throw bad(id, `"${k}" is not a string`);
    return v;
  };
  const time = (v: unknown, what: string): string => {
    if (typeof v !== 'string' || !isGoTime(v)) throw bad(id, `"${what}" is not an RFC 3339 time`);
    return v;
  };
  const optId = (k: string): string | undefined => {
    const v = str(k);
    if (v === undefined) return undefined;
    if (!LOOSE_ID_RE.test(v)) throw bad(id, `"${k}" is not an id`);
    return v.toLowerCase();
  };
  const strings = (k: string): string[] | undefined => {
    const v = o[k];
    if (v === undefined || v === null) return undefined;
    if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw bad(id, `"${k}" is not a list of strings`);
    return v as string[];
  };
  const uint = (v: unknown, what: string): number => {
    if (v === undefined || v === null) return 0;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw bad(id, `"${what}" is not a non-negative integer`);
    return v;
  };

  const tree = optId('tree');
  if (tree === undefined) throw bad(id, 'it has no "tree"');
  const time0 = time(o['time'], 'time');
  const parent = optId('parent');
  // Build in restic's field order, so printing the object reads like restic's.
  const out = { time: time0, ...(parent !== undefined ? { parent } : {}), tree, paths: strings('paths') ?? [] } as Snapshot;
  const hostname = str('hostname');
  if (hostname) out.hostname = hostname;
  const username = str('username');
  if (username) out.username = username;
  const uid = uint(o['uid'], 'uid');
  if (uid) out.uid = uid;
  const gid = uint(o['gid'], 'gid');
  if (gid) out.gid = gid;
  const excludes = strings('excludes');
  if (excludes?.length) out.excludes = excludes;
  const tags = strings('tags');
  if (tags?.length) out.tags = tags;
  const original = optId('original');
  if (original !== undefined) out.original = original;
  const programVersion = str('program_version');
  if (programVersion) out.program_version = programVersion;
  const summary = o['summary'];
  if (summary !== undefined && summary !== null) {
    if (typeof summary !== 'object' || Array.isArray(summary)) throw bad(id, '"summary" is not an object');
    const so = summary as Record<string, unknown>;
    const sum = { backup_start: time(so['backup_start'] ?? '0001-01-01T00:00:00Z', 'summary.backup_start'), backup_end: time(so['backup_end'] ?? '0001-01-01T00:00:00Z', 'summary.backup_end') } as SnapshotSummary;
    for (const k of SUMMARY_COUNTERS) sum[k] = uint(so[k], `summary.${k}`);
    out.summary = sum;
  }
  out.id = id;
  return out;
}

/** One snapshot as `restic snapshots --json` prints it (snapshot fields, then `id`, `short_id`). */
export interface ResticSnapshotJson extends SnapshotData {
  id: string;
  short_id: string;
}

/**
 * The object `restic snapshots --json` prints for a snapshot, with restic's
 * key order (time, parent?, tree, paths, hostname?, …, summary?, id,
 * short_id) so scripts written for restic keep working.
 */
export function snapshotToResticJson(s: Snapshot): ResticSnapshotJson {
  // Reuse the exact field selection of the file encoder, then append the ids.
  const text = addSnapshotFields(new GoJsonObject(), s).raw('id', JSON.stringify(s.id)).raw('short_id', JSON.stringify(s.id.slice(0, 8))).toString();
  return JSON.parse(text) as ResticSnapshotJson;
}
