// Tree blobs (format §10): restic's exact bytes on the way out, so unchanged
// directories dedup against restic's trees; a lenient reader on the way in.
import { isUtf8 } from 'node:buffer';
import { CairnError } from '../errors.js';
import { GoJsonObject, goJsonString, goJsonValue, parseJsonLossless } from './goJson.js';
import { goQuote, goQuoteString, goUnquote } from './goQuote.js';
import { sha256Hex } from './ids.js';
import { isNodeType, nodeNameBytes, type ExtendedAttribute, type Node, type Tree } from './node.js';
import { canonicalGoTime, isGoTime } from './timeFormat.js';

/** The plaintext of an empty directory's tree blob. */
export const EMPTY_TREE_PLAINTEXT = '{"nodes":[]}\n';
/** The blob id of the empty tree (SHA-256 of EMPTY_TREE_PLAINTEXT). */
export const EMPTY_TREE_ID = 'ac08ce34ba4f8123618661bef2425f7028ffb9ac740578a3ee88684d2523fee8';

/** Go's zero time.Time as JSON text: what restic reads for a missing time field. */
const ZERO_TIME = '0001-01-01T00:00:00Z';
const NEEDS_UNQUOTE = /[\\"\n\ud800-\udfff]/u;
const ID_RE = /^[0-9a-f]{64}$/;
const LOOSE_ID_RE = /^[0-9a-fA-F]{64}$/;
const BASE64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function encodeId(id: string, what: string): string {
  if (!ID_RE.test(id)) throw new RangeError(`${what} ${JSON.stringify(id)} is not a 64-digit lowercase hex id`);
  return '"' + id + '"';
}

function encodeTime(t: string, what: string): string {
  try {
    return '"' + canonicalGoTime(t) + '"';
  } catch {
    throw new RangeError(`${what} ${JSON.stringify(t)} is not an RFC 3339 time`);
  }
}

function encodeXattrs(attrs: readonly ExtendedAttribute[] | undefined): string | undefined {
  if (attrs === undefined || attrs.length === 0) return undefined;
  let out = '[';
  for (let i = 0; i < attrs.length; i++) {
    const a = attrs[i]!;
    out += (i === 0 ? '' : ',') + new GoJsonObject().string('name', a.name).string('value', a.value).toString();
  }
  return out + ']';
}

function encodeGenericAttributes(attrs: Record<string, unknown> | undefined): string | undefined {
  if (attrs === undefined) return undefined;
  // Go writes a map with its keys sorted bytewise.
  const keys = Object.keys(attrs).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  if (keys.length === 0) return undefined;
  return '{' + keys.map((k) => goJsonString(k) + ':' + goJsonValue(attrs[k])).join(',') + '}';
}

/**
 * `linktarget` as restic writes it. restic holds the target as raw bytes, so
 * an invalid UTF-8 target is JSON-encoded with `\ufffd` per bad byte; when
 * `linktarget_raw` is set those bytes are authoritative and used here.
 */
function linkTargetJson(node: Node): string | undefined {
  if (node.linktarget_raw) return goJsonString(Buffer.from(node.linktarget_raw, 'base64'));
  return node.linktarget ? goJsonString(node.linktarget) : undefined;
}

/**
 * One node as restic's json.Marshal writes it: fields in Go struct order,
 * omitempty, name Go-quoted, uint64s exact, `content` null when unset.
 * Throws a RangeError for a node that cannot be written as given.
 */
export function encodeNode(node: Node): string {
  if (!isNodeType(node.type)) throw new RangeError(`node ${JSON.stringify(node.name)} has unknown type ${JSON.stringify(node.type)}`);
  const where = `node ${JSON.stringify(node.name)}`;
  const mtime = encodeTime(node.mtime, `${where}: mtime`);
  let content = 'null';
  if (node.content != null) content = '[' + node.content.map((id) => encodeId(id, `${where}: content id`)).join(',') + ']';
  return new GoJsonObject()
    .raw('name', goJsonString(node.nameRaw ? goQuote(node.nameRaw) : goQuoteString(node.name)))
    .raw('type', '"' + node.type + '"')
    .uint32('mode', node.mode, true)
    .raw('mtime', mtime)
    .raw('atime', node.atime === node.mtime ? mtime : encodeTime(node.atime, `${where}: atime`))
    .raw('ctime', node.ctime === node.mtime ? mtime : encodeTime(node.ctime, `${where}: ctime`))
    .uint32('uid', node.uid ?? 0)
    .uint32('gid', node.gid ?? 0)
    .string('user', node.user, true)
    .string('group', node.group, true)
    .uint('inode', node.inode, true)
    .uint('device_id', node.device_id, true)
    .uint('size', node.size, true)
    .uint('links', node.links, true)
    .raw('linktarget', linkTargetJson(node))
    .string('linktarget_raw', node.linktarget_raw, true)
    .raw('extended_attributes', encodeXattrs(node.extended_attributes))
    .raw('generic_attributes', encodeGenericAttributes(node.generic_attributes))
    .uint('device', node.device, true)
    .raw('content', content)
    .raw('subtree', node.subtree ? encodeId(node.subtree, `${where}: subtree`) : undefined)
    .string('error', node.error, true)
    .toString();
}

/**
 * A tree blob's exact plaintext as restic writes it: `{"nodes":[…]}` and a
 * newline, nodes sorted by raw name bytes. Two nodes with the same name are a
 * CairnError ('duplicate-node-name'); its SHA-256 is the tree's blob id.
 */
export function encodeTree(nodes: readonly Node[]): Buffer {
  const keyed = nodes.map((node) => ({ node, key: nodeNameBytes(node) }));
  keyed.sort((a, b) => Buffer.compare(a.key, b.key));
  for (let i = 1; i < keyed.length; i++) {
    if (keyed[i - 1]!.key.equals(keyed[i]!.key)) {
      throw new CairnError(
        'duplicate-node-name',
        `two entries named ${JSON.stringify(keyed[i]!.node.name)} in one directory`,
        'Check the backup sources and their paths: each name may appear only once per directory.',
      );
    }
  }
  // Each node goes to bytes at once so its intermediate strings die young (big trees otherwise thrash the GC).
  const parts: Buffer[] = [Buffer.from('{"nodes":[')];
  for (let i = 0; i < keyed.length; i++) parts.push(Buffer.from((i === 0 ? '' : ',') + encodeNode(keyed[i]!.node), 'utf8'));
  parts.push(Buffer.from(']}\n'));
  return Buffer.concat(parts);
}

/** The blob id a tree of these nodes gets (SHA-256 of encodeTree); throws like encodeTree. */
export function treeIdOf(nodes: readonly Node[]): string {
  return sha256Hex(encodeTree(nodes));
}

function sameXattrs(a: readonly ExtendedAttribute[] | undefined, b: readonly ExtendedAttribute[] | undefined): boolean {
  const x = a ?? [];
  const y = b ?? [];
  return x.length === y.length && x.every((e, i) => e.name === y[i]!.name && e.value === y[i]!.value);
}

function sameIds(a: readonly string[] | null | undefined, b: readonly string[] | null | undefined): boolean {
  if (a == null || b == null) return (a == null) === (b == null);
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function sameNameBytes(a: Node, b: Node): boolean {
  if (a.name !== b.name) return false;
  if (a.nameRaw === undefined || b.nameRaw === undefined) return a.nameRaw === b.nameRaw;
  return a.nameRaw.equals(b.nameRaw);
}

/**
 * True only when encodeNode(a) and encodeNode(b) give the same text, compared
 * field by field without encoding (the archiver's test for an unchanged
 * directory). Conservative: some pairs that would encode alike (e.g. a time
 * written once canonically and once not) are called different; never the
 * reverse. Keep in step with encodeNode: every field it writes is compared here.
 */
export function nodesEncodeAlike(a: Node, b: Node): boolean {
  return (
    sameNameBytes(a, b) &&
    a.type === b.type &&
    a.mode === b.mode &&
    a.mtime === b.mtime &&
    a.atime === b.atime &&
    a.ctime === b.ctime &&
    (a.uid ?? 0) === (b.uid ?? 0) &&
    (a.gid ?? 0) === (b.gid ?? 0) &&
    (a.user ?? '') === (b.user ?? '') &&
    (a.group ?? '') === (b.group ?? '') &&
    (a.inode ?? 0n) === (b.inode ?? 0n) &&
    (a.device_id ?? 0n) === (b.device_id ?? 0n) &&
    (a.size ?? 0) === (b.size ?? 0) &&
    (a.links ?? 0) === (b.links ?? 0) &&
    (a.linktarget ?? '') === (b.linktarget ?? '') &&
    (a.linktarget_raw ?? '') === (b.linktarget_raw ?? '') &&
    sameXattrs(a.extended_attributes, b.extended_attributes) &&
    // rare (other platforms' metadata): only "none on either side" counts as the same
    a.generic_attributes === undefined &&
    b.generic_attributes === undefined &&
    (a.device ?? 0n) === (b.device ?? 0n) &&
    sameIds(a.content, b.content) &&
    (a.subtree ?? '') === (b.subtree ?? '') &&
    (a.error ?? '') === (b.error ?? '')
  );
}

/** Signals that JSON.parse lost an integer above 2^53 and the lossless parser is needed. */
const NEEDS_LOSSLESS = Symbol('needs-lossless');

class TreeReader {
  constructor(
    private readonly treeId: string | undefined,
    private readonly lossless: boolean,
  ) {}

  bad(detail: string): CairnError {
    const which = this.treeId ? `tree blob ${this.treeId.slice(0, 8)}` : 'a tree blob';
    return new CairnError(
      'bad-tree',
      `${which} is malformed: ${detail}`,
      'Run `restic check` (or `cairn check`) on the repository; snapshots using a damaged tree can be fixed with `restic repair snapshots`.',
    );
  }

  tree(root: unknown): Tree {
    if (typeof root !== 'object' || root === null || Array.isArray(root)) throw this.bad('not a JSON object');
    const list = (root as Record<string, unknown>)['nodes'];
    if (list === undefined || list === null) return { nodes: [] };
    if (!Array.isArray(list)) throw this.bad('"nodes" is not a list');
    return { nodes: list.map((n, i) => this.node(n, i)) };
  }

  private node(raw: unknown, index: number): Node {
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw this.bad(`node #${index} is not an object`);
    const o = raw as Record<string, unknown>;
    const quoted = this.str(o['name'], `node #${index}: name`) ?? '';
    let name = quoted;
    let bytes: Buffer | undefined;
    // Most names need no unquoting; lone surrogates take the slow path to become U+FFFD like Go's.
    if (NEEDS_UNQUOTE.test(quoted)) {
      try {
        bytes = goUnquote(quoted);
      } catch {
        throw this.bad(`node name ${JSON.stringify(quoted)} is not a valid Go-quoted string`);
      }
      name = bytes.toString('utf8');
    }
    const valid = bytes === undefined || isUtf8(bytes);
    const where = `node ${JSON.stringify(valid ? name : quoted)}`;
    const type = o['type'];
    if (!isNodeType(type)) throw this.bad(`${where} has unknown type ${JSON.stringify(type ?? null)}`);

    const node: Node = { name, type, mtime: ZERO_TIME, atime: ZERO_TIME, ctime: ZERO_TIME, uid: 0, gid: 0, content: null };
    if (!valid) node.nameRaw = bytes!;
    const mode = this.uint32(o['mode'], `${where}: mode`);
    if (mode !== undefined) node.mode = mode;
    node.mtime = this.time(o['mtime'], `${where}: mtime`);
    // restic stores mtime as atime unless --with-atime: equal text needs no second check
    node.atime = o['atime'] === node.mtime ? node.mtime : this.time(o['atime'], `${where}: atime`);
    node.ctime = this.time(o['ctime'], `${where}: ctime`);
    node.uid = this.uint32(o['uid'], `${where}: uid`) ?? 0;
    node.gid = this.uint32(o['gid'], `${where}: gid`) ?? 0;
    this.setString(node, 'user', o['user'], where);
    this.setString(node, 'group', o['group'], where);
    const inode = this.uint64(o['inode'], `${where}: inode`);
    if (inode !== undefined) node.inode = inode;
    const deviceId = this.uint64(o['device_id'], `${where}: device_id`);
    if (deviceId !== undefined) node.device_id = deviceId;
    const size = this.safeUint(o['size'], `${where}: size`);
    if (size !== undefined) node.size = size;
    const links = this.safeUint(o['links'], `${where}: links`);
    if (links !== undefined) node.links = links;
    this.setString(node, 'linktarget', o['linktarget'], where);
    const linkRaw = this.str(o['linktarget_raw'], `${where}: linktarget_raw`);
    if (linkRaw !== undefined) {
      if (!BASE64_RE.test(linkRaw)) throw this.bad(`${where}: linktarget_raw is not base64`);
      node.linktarget_raw = linkRaw;
    }
    const xattrs = this.xattrs(o['extended_attributes'], where);
    if (xattrs !== undefined) node.extended_attributes = xattrs;
    const generic = o['generic_attributes'];
    if (generic !== undefined && generic !== null) {
      if (typeof generic !== 'object' || Array.isArray(generic)) throw this.bad(`${where}: generic_attributes is not an object`);
      const copy: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(generic)) {
        this.checkNumbers(v);
        Object.defineProperty(copy, k, { value: v, enumerable: true, writable: true, configurable: true });
      }
      node.generic_attributes = copy;
    }
    const device = this.uint64(o['device'], `${where}: device`);
    if (device !== undefined) node.device = device;
    const content = o['content'];
    if (content !== undefined && content !== null) {
      if (!Array.isArray(content)) throw this.bad(`${where}: content is not a list`);
      node.content = content.map((id) => this.id(id, `${where}: content`));
    }
    const subtree = o['subtree'];
    if (subtree !== undefined && subtree !== null) node.subtree = this.id(subtree, `${where}: subtree`);
    this.setString(node, 'error', o['error'], where);
    return node;
  }

  private setString(node: Node, key: 'user' | 'group' | 'linktarget' | 'error', v: unknown, where: string): void {
    const s = this.str(v, `${where}: ${key}`);
    if (s !== undefined && s !== '') node[key] = s;
  }

  private str(v: unknown, what: string): string | undefined {
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'string') throw this.bad(`${what} is not a string`);
    return v;
  }

  private time(v: unknown, what: string): string {
    const s = this.str(v, what);
    if (s === undefined) return ZERO_TIME;
    if (!isGoTime(s)) throw this.bad(`${what} ${JSON.stringify(s)} is not an RFC 3339 time`);
    return s;
  }

  private id(v: unknown, what: string): string {
    if (typeof v === 'string' && ID_RE.test(v)) return v; // the common case: already lowercase
    if (typeof v !== 'string' || !LOOSE_ID_RE.test(v)) throw this.bad(`${what} has an invalid id ${JSON.stringify(v)}`);
    return v.toLowerCase();
  }

  /** An integer field; JSON.parse results above 2^53 trigger a lossless re-parse. */
  private integer(v: unknown, what: string): number | bigint | undefined {
    if (v === undefined || v === null) return undefined;
    if (typeof v === 'bigint') return v;
    if (typeof v !== 'number' || !Number.isInteger(v)) throw this.bad(`${what} is not an integer`);
    if (!Number.isSafeInteger(v)) {
      if (!this.lossless) throw NEEDS_LOSSLESS;
      throw this.bad(`${what} is not an exact integer`);
    }
    return v;
  }

  private uint64(v: unknown, what: string): bigint | undefined {
    const n = this.integer(v, what);
    if (n === undefined) return undefined;
    const b = BigInt(n);
    if (b < 0n || b > 0xffffffffffffffffn) throw this.bad(`${what} ${b} does not fit in uint64`);
    return b === 0n ? undefined : b;
  }

  private uint32(v: unknown, what: string): number | undefined {
    const n = this.integer(v, what);
    if (n === undefined) return undefined;
    if (typeof n === 'bigint' || n < 0 || n > 0xffffffff) throw this.bad(`${what} ${n} does not fit in uint32`);
    return n;
  }

  /** size and links: uint64 in restic, but kept as numbers; values beyond 2^53 cannot come from a real filesystem. */
  private safeUint(v: unknown, what: string): number | undefined {
    const n = this.integer(v, what);
    if (n === undefined) return undefined;
    if (typeof n === 'bigint') throw this.bad(`${what} ${n} is larger than cairn supports (2^53)`);
    if (n < 0) throw this.bad(`${what} ${n} is negative`);
    return n === 0 ? undefined : n;
  }

  private xattrs(v: unknown, where: string): ExtendedAttribute[] | undefined {
    if (v === undefined || v === null) return undefined;
    if (!Array.isArray(v)) throw this.bad(`${where}: extended_attributes is not a list`);
    if (v.length === 0) return undefined;
    return v.map((a, i) => {
      if (typeof a !== 'object' || a === null || Array.isArray(a)) throw this.bad(`${where}: extended attribute #${i} is not an object`);
      const r = a as Record<string, unknown>;
      const name = this.str(r['name'], `${where}: extended attribute #${i} name`) ?? '';
      const value = this.str(r['value'], `${where}: extended attribute ${JSON.stringify(name)} value`) ?? '';
      if (!BASE64_RE.test(value)) throw this.bad(`${where}: extended attribute ${JSON.stringify(name)} value is not base64`);
      return { name, value };
    });
  }

  private checkNumbers(v: unknown): void {
    if (typeof v === 'number' && Number.isInteger(v) && !Number.isSafeInteger(v) && !this.lossless) throw NEEDS_LOSSLESS;
    if (typeof v === 'object' && v !== null) for (const x of Object.values(v)) this.checkNumbers(x);
  }
}

/**
 * Decodes a tree blob's plaintext leniently (any whitespace, unknown fields
 * ignored, missing fields as Go's zero values). Names are Go-unquoted;
 * `nameRaw` is set only when the name bytes are not valid UTF-8. uint64
 * fields stay exact. Malformed input is a CairnError ('bad-tree'); `id`
 * only names the blob in messages.
 */
export function decodeTree(buf: Uint8Array, id?: string): Tree {
  const text = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength).toString('utf8');
  let root: unknown;
  try {
    root = JSON.parse(text);
  } catch (err) {
    throw new TreeReader(id, false).bad(`not valid JSON (${(err as Error).message})`);
  }
  try {
    return new TreeReader(id, false).tree(root);
  } catch (err) {
    if (err !== NEEDS_LOSSLESS) throw err;
  }
  return new TreeReader(id, true).tree(parseJsonLossless(text));
}
