import { readFileSync } from 'node:fs';

let users: Map<number, string> | undefined;
let groups: Map<number, string> | undefined;

function parseIdFile(path: string): Map<number, string> {
  const map = new Map<number, string>();
  try {
    for (const line of readFileSync(path, 'utf8').split('\n')) {
      const f = line.split(':');
      if (f.length >= 3 && f[0] && !map.has(Number(f[2]))) map.set(Number(f[2]), f[0]);
    }
  } catch {
    // no /etc/passwd (containers): names stay empty, as restic leaves them
  }
  return map;
}

/** The user name of a uid as restic records it (empty when unknown). */
export function userName(uid: number): string {
  users ??= parseIdFile('/etc/passwd');
  return users.get(uid) ?? '';
}

/** The group name of a gid (empty when unknown). */
export function groupName(gid: number): string {
  groups ??= parseIdFile('/etc/group');
  return groups.get(gid) ?? '';
}
