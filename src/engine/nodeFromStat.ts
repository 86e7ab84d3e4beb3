import type { BigIntStats } from 'node:fs';
import { GoMode, type Node, type NodeType } from '../repo/node.js';
import { formatLocalGoTime } from '../repo/timeFormat.js';
import { groupName, userName } from './userNames.js';

/** The node type of an lstat result. */
export function nodeTypeOf(st: BigIntStats): NodeType {
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'dir';
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isBlockDevice()) return 'dev';
  if (st.isCharacterDevice()) return 'chardev';
  if (st.isFIFO()) return 'fifo';
  if (st.isSocket()) return 'socket';
  return 'irregular';
}

/** Unix st_mode → Go os.FileMode bits, as restic stores them (format §10.3). */
export function goModeOf(st: BigIntStats): number {
  const m = Number(st.mode);
  let g = m & 0o777;
  if (m & 0o4000) g |= GoMode.setuid;
  if (m & 0o2000) g |= GoMode.setgid;
  if (m & 0o1000) g |= GoMode.sticky;
  switch (nodeTypeOf(st)) {
    case 'dir': g |= GoMode.dir; break;
    case 'symlink': g |= GoMode.symlink; break;
    case 'dev': g |= GoMode.device; break;
    case 'chardev': g |= GoMode.device | GoMode.charDevice; break;
    case 'fifo': g |= GoMode.namedPipe; break;
    case 'socket': g |= GoMode.socket; break;
    case 'irregular': g |= GoMode.irregular; break;
    default: break;
  }
  return g >>> 0;
}

/**
 * A node with restic's metadata for a filesystem entry (content/subtree filled
 * in by the caller). atime is recorded as mtime, as restic does by default.
 * `formatTime` writes the times (a run's LocalTimeFormatter gives the same text faster).
 */
export function nodeFromStat(name: string, st: BigIntStats, linktarget?: string, formatTime: (epochNs: bigint) => string = formatLocalGoTime): Node {
  const type = nodeTypeOf(st);
  const mtime = formatTime(st.mtimeNs);
  const node: Node = {
    name,
    type,
    mode: goModeOf(st),
    mtime,
    atime: mtime,
    ctime: formatTime(st.ctimeNs),
    uid: Number(st.uid),
    gid: Number(st.gid),
    content: type === 'file' ? [] : null,
  };
  const user = userName(node.uid);
  if (user) node.user = user;
  const group = groupName(node.gid);
  if (group) node.group = group;
  if (st.ino) node.inode = st.ino;
  if (st.dev) node.device_id = st.dev;
  if (type === 'file' && st.size > 0n) node.size = Number(st.size);
  if (type === 'file' || type === 'symlink' || type === 'dev' || type === 'chardev') node.links = Number(st.nlink);
  if (type === 'symlink' && linktarget !== undefined) node.linktarget = linktarget;
  if ((type === 'dev' || type === 'chardev') && st.rdev) node.device = st.rdev;
  return node;
}
