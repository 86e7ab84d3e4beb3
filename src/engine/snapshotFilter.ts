// Selecting snapshots by host, tags and paths: restic's `--host`, `--tag`
// and `--path` options (restic 0.14 semantics), shared by every command that
// works on a set of snapshots.
import type { Snapshot } from '../repo/snapshot.js';

/** Which snapshots a command considers; an unset or empty field matches everything. */
export interface SnapshotFilter {
  /** --host, repeatable: the snapshot's host is any of these. */
  hosts?: readonly string[];
  /** --tag, repeatable: the snapshot has all tags of any one list. */
  tags?: readonly (readonly string[])[];
  /** --path, repeatable: the snapshot has every one of these paths (exact text). */
  paths?: readonly string[];
}

/** Splits one `--tag` / `--keep-tag` value into its tags: "a, b" → ["a", "b"]; "" → [""] (untagged). */
export function parseTagList(text: string): string[] {
  return text.split(',').map((t) => t.trim());
}

/**
 * True when the snapshot has every tag of the list. The empty tag matches a
 * snapshot without tags, and, as in restic, it settles the answer at once
 * when it is met: ["", "x"] matches an untagged snapshot, ["x", ""] does not.
 */
export function hasTags(sn: Snapshot, list: readonly string[]): boolean {
  const tags = sn.tags ?? [];
  for (const tag of list) {
    if (tag === '' && tags.length === 0) return true;
    if (!tags.includes(tag)) return false;
  }
  return true;
}

/** True when the snapshot passes the host, tag and path filters. */
export function matchesFilter(sn: Snapshot, filter: SnapshotFilter): boolean {
  if (filter.hosts && filter.hosts.length > 0 && !filter.hosts.includes(sn.hostname ?? '')) return false;
  if (filter.tags && filter.tags.length > 0 && !filter.tags.some((l) => hasTags(sn, l))) return false;
  if (filter.paths && !filter.paths.every((p) => sn.paths.includes(p))) return false;
  return true;
}

/** The snapshots that pass the filter, in their original order. */
export function filterSnapshots(snapshots: readonly Snapshot[], filter: SnapshotFilter): Snapshot[] {
  return snapshots.filter((sn) => matchesFilter(sn, filter));
}
