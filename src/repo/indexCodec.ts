// Index files (format §8): restic's JSON with a trailing newline (it uses a
// json.Encoder), never `supersedes` on write; tolerant of it on read.
import { CairnError } from '../errors.js';
import { GoJsonObject } from './goJson.js';

/** One blob's location inside a pack, as an index file lists it. */
export interface IndexBlob {
  id: string;
  type: 'data' | 'tree';
  /** Where the sealed blob starts in the pack. */
  offset: number;
  /** Length of the sealed blob in the pack. */
  length: number;
  /** Plaintext size; present only for compressed blobs. */
  uncompressed_length?: number;
}

/** One pack and all its blobs, as an index file lists it. */
export interface IndexPack {
  id: string;
  blobs: IndexBlob[];
}

/** A decoded index file. `supersedes` is informational (format §8.3). */
export interface DecodedIndex {
  supersedes?: string[];
  packs: IndexPack[];
}

const ID_RE = /^[0-9a-f]{64}$/;
const LOOSE_ID_RE = /^[0-9a-fA-F]{64}$/;

function idJson(id: string, what: string): string {
  if (!ID_RE.test(id)) throw new RangeError(`index ${what} ${JSON.stringify(id)} is not a 64-digit lowercase hex id`);
  return '"' + id + '"';
}

/**
 * An index file's plaintext exactly as restic writes it:
 * `{"packs":[{"id":…,"blobs":[{"id","type","offset","length","uncompressed_length"?}]}]}` and "\n".
 */
export function encodeIndex(packs: readonly IndexPack[]): Buffer {
  let out = '{"packs":[';
  for (let p = 0; p < packs.length; p++) {
    const pack = packs[p]!;
    let blobs = '[';
    for (let b = 0; b < pack.blobs.length; b++) {
      const blob = pack.blobs[b]!;
      if (blob.type !== 'data' && blob.type !== 'tree') throw new RangeError(`index blob ${blob.id} has unknown type ${JSON.stringify(blob.type)}`);
      blobs += (b === 0 ? '' : ',') + new GoJsonObject()
        .raw('id', idJson(blob.id, 'blob id'))
        .raw('type', '"' + blob.type + '"')
        .uint('offset', blob.offset)
        .uint('length', blob.length)
        .uint('uncompressed_length', blob.uncompressed_length, true)
        .toString();
    }
    out += (p === 0 ? '' : ',') + new GoJsonObject().raw('id', idJson(pack.id, 'pack id')).raw('blobs', blobs + ']').toString();
  }
  return Buffer.from(out + ']}\n', 'utf8');
}

const REMEDY = 'Run `restic repair index` (restic 0.14: `restic rebuild-index`) to rebuild the index from the packs.';

/**
 * Decodes an index file's plaintext (unknown fields ignored, ids lowercased).
 * The bare-array index of restic 0.1 is a CairnError 'legacy-index';
 * anything else malformed is 'bad-index'. `name` only labels messages.
 */
export function decodeIndex(buf: Uint8Array, name?: string): DecodedIndex {
  const which = name ? `index file ${name.slice(0, 8)}` : 'an index file';
  const bad = (detail: string): CairnError => new CairnError('bad-index', `${which} is malformed: ${detail}`, REMEDY);
  const text = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength).toString('utf8');
  if (text.trimStart().startsWith('[')) {
    throw new CairnError(
      'legacy-index',
      `${which} uses the legacy index format of restic 0.1, which cairn does not read`,
      'Run `restic repair index` (restic 0.14: `restic rebuild-index`) once to rewrite the index in the current format.',
    );
  }
  let root: unknown;
  try {
    root = JSON.parse(text);
  } catch (err) {
    throw bad(`not valid JSON (${(err as Error).message})`);
  }
  if (typeof root !== 'object' || root === null || Array.isArray(root)) throw bad('not a JSON object');
  const o = root as Record<string, unknown>;
  const id = (v: unknown, what: string): string => {
    if (typeof v === 'string' && ID_RE.test(v)) return v; // the common case: already lowercase
    if (typeof v !== 'string' || !LOOSE_ID_RE.test(v)) throw bad(`${what} ${JSON.stringify(v ?? null)} is not an id`);
    return v.toLowerCase();
  };
  const uint = (v: unknown, what: string): number => {
    if (v === undefined || v === null) return 0;
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw bad(`${what} ${JSON.stringify(v)} is not a non-negative integer`);
    return v;
  };
  const list = (v: unknown, what: string): unknown[] => {
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v)) throw bad(`${what} is not a list`);
    return v;
  };

  const packs = list(o['packs'], '"packs"').map((p, pi): IndexPack => {
    if (typeof p !== 'object' || p === null || Array.isArray(p)) throw bad(`pack #${pi} is not an object`);
    const po = p as Record<string, unknown>;
    const packId = id(po['id'], `pack #${pi} id`);
    const blobs = list(po['blobs'], `pack ${packId.slice(0, 8)} "blobs"`).map((b, bi): IndexBlob => {
      const where = `pack ${packId.slice(0, 8)} blob #${bi}`;
      if (typeof b !== 'object' || b === null || Array.isArray(b)) throw bad(`${where} is not an object`);
      const bo = b as Record<string, unknown>;
      const type = bo['type'];
      if (type !== 'data' && type !== 'tree') throw bad(`${where} has unknown type ${JSON.stringify(type ?? null)}`);
      const blob: IndexBlob = { id: id(bo['id'], `${where} id`), type, offset: uint(bo['offset'], `${where} offset`), length: uint(bo['length'], `${where} length`) };
      const ul = uint(bo['uncompressed_length'], `${where} uncompressed_length`);
      if (ul !== 0) blob.uncompressed_length = ul;
      return blob;
    });
    return { id: packId, blobs };
  });
  const out: DecodedIndex = { packs };
  const sup = o['supersedes'];
  if (sup !== undefined && sup !== null) out.supersedes = list(sup, '"supersedes"').map((s, i) => id(s, `supersedes #${i}`));
  return out;
}
