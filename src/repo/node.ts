/** Node types restic knows; `irregular` covers everything else a filesystem can hold. */
export type NodeType = 'file' | 'dir' | 'symlink' | 'dev' | 'chardev' | 'fifo' | 'socket' | 'irregular';

/** Every node type restic accepts, in no particular order. */
export const NODE_TYPES: readonly NodeType[] = ['file', 'dir', 'symlink', 'dev', 'chardev', 'fifo', 'socket', 'irregular'];

/** True when `t` is a node type restic knows. */
export function isNodeType(t: unknown): t is NodeType {
  return typeof t === 'string' && (NODE_TYPES as readonly string[]).includes(t);
}

/** One xattr as restic stores it: the value is base64. */
export interface ExtendedAttribute {
  name: string;
  value: string;
}

/**
 * One directory entry inside a tree blob, field for field as restic writes it
 * (format §10.2). Times stay RFC 3339 strings so nanoseconds and offsets
 * round-trip; 64-bit counters that can pass 2^53 are bigints.
 */
export interface Node {
  /** The entry name, Go-unquoted (format §10.4). */
  name: string;
  /** The raw name bytes when they are not valid UTF-8 (then authoritative). */
  nameRaw?: Buffer;
  type: NodeType;
  /** Go os.FileMode bits (format §10.3). */
  mode?: number;
  /** Go RFC 3339 text with nanoseconds (see timeFormat.ts). */
  mtime: string;
  /** Go RFC 3339 text; restic stores mtime here unless --with-atime. */
  atime: string;
  /** Go RFC 3339 text of the inode change time. */
  ctime: string;
  uid: number;
  gid: number;
  user?: string;
  group?: string;
  inode?: bigint;
  device_id?: bigint;
  /** uint64 in restic; a number here (real sizes stay below 2^53; larger values are rejected on decode). */
  size?: number;
  /** uint64 in restic; a number here, like size. */
  links?: number;
  linktarget?: string;
  /**
   * base64 of the link target bytes, only when they are not valid UTF-8
   * (restic 0.16+). Authoritative when set: the tree encoder derives the
   * `linktarget` text from these bytes, as restic does.
   */
  linktarget_raw?: string;
  extended_attributes?: ExtendedAttribute[];
  generic_attributes?: Record<string, unknown>;
  device?: bigint;
  /** Data blob ids in file order; `[]` for an empty file; null for non-files. */
  content: string[] | null;
  subtree?: string;
  error?: string;
}

/** The raw bytes of a node's name: `nameRaw` when set, else the UTF-8 of `name`. */
export function nodeNameBytes(node: Pick<Node, 'name' | 'nameRaw'>): Buffer {
  return node.nameRaw ?? Buffer.from(node.name, 'utf8');
}

/** A decoded tree blob: its nodes sorted by name bytes. */
export interface Tree {
  nodes: Node[];
}

/** Go os.FileMode bits. */
export const GoMode = {
  dir: 0x80000000,
  symlink: 0x08000000,
  device: 0x04000000,
  namedPipe: 0x02000000,
  socket: 0x01000000,
  setuid: 0x00800000,
  setgid: 0x00400000,
  charDevice: 0x00200000,
  sticky: 0x00100000,
  irregular: 0x00080000,
  perm: 0o777,
} as const;

/** The unix permission bits (incl. setuid/setgid/sticky) of a Go file mode, for chmod. */
export function unixPermissions(goMode: number): number {
  let m = goMode & GoMode.perm;
  if (goMode & GoMode.setuid) m |= 0o4000;
  if (goMode & GoMode.setgid) m |= 0o2000;
  if (goMode & GoMode.sticky) m |= 0o1000;
  return m;
}
