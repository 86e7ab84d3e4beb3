// Grouping snapshots by host, paths and/or tags: restic's `--group-by`
// (internal/restic/snapshot_group.go, restic 0.14), used by forget and by
// listings that group.
import { CairnError } from '../errors.js';
import type { Snapshot } from '../repo/snapshot.js';

/** What snapshots are grouped by; all false puts every snapshot in one group. */
export interface GroupBy {
  host: boolean;
  paths: boolean;
  tags: boolean;
}

/** restic's default grouping: host and paths. */
export const defaultGroupBy: Readonly<GroupBy> = Object.freeze({ host: true, paths: true, tags: false });

/** Parses a `--group-by` value: host, paths and/or tags separated by commas (singular or plural); "" disables grouping. */
export function parseGroupBy(text: string): GroupBy {
  const g: GroupBy = { host: false, paths: false, tags: false };
  for (const option of text.split(',')) {
    switch (option) {
      case 'host':
      case 'hosts':
        g.host = true;
        break;
      case 'path':
      case 'paths':
        g.paths = true;
        break;
      case 'tag':
      case 'tags':
        g.tags = true;
        break;
      case '':
        break;
      default:
        throw new CairnError('bad-group-by', `unknown grouping option "${option}"`, "Use --group-by with host, paths and/or tags separated by commas, or --group-by '' for no grouping.");
    }
  }
  return g;
}

/** A group's key in restic's JSON shape; fields not grouped by are "" / null. */
export interface SnapshotGroupKey {
  hostname: string;
  paths: string[] | null;
  tags: string[] | null;
}

/** One group: its key and its snapshots in input order. */
export interface SnapshotGroup {
  key: SnapshotGroupKey;
  snapshots: Snapshot[];
}

/** The key as restic serialises it (`{"hostname":…,"paths":…,"tags":…}`), which is also what identifies a group. */
export function groupKeyJson(key: SnapshotGroupKey): string {
  return JSON.stringify({ hostname: key.hostname, paths: key.paths, tags: key.tags });
}

/**
 * Splits snapshots into groups. As in restic, each snapshot's paths are
 * sorted, and its tags too when grouping by tags; restic sorts them in place,
 * so its output shows them sorted, and so do the copies returned here (the
 * input is not changed). Groups come ordered by key; restic's order is random.
 */
export function groupSnapshots(snapshots: readonly Snapshot[], groupBy: GroupBy): SnapshotGroup[] {
  const groups = new Map<string, SnapshotGroup>();
  for (const original of snapshots) {
    const sn: Snapshot = { ...original, paths: [...original.paths].sort(compareGo) };
    if (groupBy.tags && sn.tags) sn.tags = [...sn.tags].sort(compareGo);
    const key: SnapshotGroupKey = {
      hostname: groupBy.host ? (sn.hostname ?? '') : '',
      paths: groupBy.paths ? [...sn.paths] : null,
      tags: groupBy.tags && sn.tags && sn.tags.length > 0 ? [...sn.tags] : null,
    };
    const k = groupKeyJson(key);
    let group = groups.get(k);
    if (!group) {
      group = { key, snapshots: [] };
      groups.set(k, group);
    }
    group.snapshots.push(sn);
  }
  return [...groups.entries()].sort(([a], [b]) => compareGo(a, b)).map(([, g]) => g);
}

/** Byte-wise string order, like Go's sort.Strings (JS's default sort compares UTF-16 units). */
function compareGo(a: string, b: string): number {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  return Buffer.compare(x, y);
}
