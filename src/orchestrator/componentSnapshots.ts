import type { Repository } from '../repo/repository.js';
import type { Snapshot } from '../repo/snapshot.js';
import { CairnError } from '../errors.js';

/** The file in every component snapshot that records its sources and their metadata. */
export const componentManifestName = '.cairn.json';

/** Why a component snapshot was taken: by a person, or by cairn itself (schedule, safety snapshot). */
export type SnapshotKind = 'manual' | 'automatic';

/** The cairn facts carried in a component snapshot's tags. */
export interface ComponentSnapshotInfo {
  snapshot: Snapshot;
  component: string;
  kind: SnapshotKind;
  reason: string;
}

/** The value of a `key=value` tag, if present. */
export function tagValue(s: Snapshot, key: string): string | undefined {
  const prefix = `${key}=`;
  return s.tags?.find((t) => t.startsWith(prefix))?.slice(prefix.length);
}

/** The tags that mark a component snapshot. */
export function componentTags(component: string, kind: SnapshotKind, reason: string, extra: readonly string[] = []): string[] {
  return [`component=${component}`, `reason=${reason}`, `kind=${kind}`, ...extra];
}

/** Reads the cairn tags of a snapshot; undefined for snapshots that are not component snapshots. */
export function componentInfo(s: Snapshot): ComponentSnapshotInfo | undefined {
  const component = tagValue(s, 'component');
  if (!component) return undefined;
  const kind = tagValue(s, 'kind') === 'automatic' ? 'automatic' : 'manual';
  return { snapshot: s, component, kind, reason: tagValue(s, 'reason') ?? '' };
}

/** Every component snapshot in the repository (optionally of one component), oldest first. */
export async function listComponentSnapshots(repo: Repository, component?: string): Promise<ComponentSnapshotInfo[]> {
  const out: ComponentSnapshotInfo[] = [];
  for (const s of await repo.loadSnapshots()) {
    const info = componentInfo(s);
    if (info && (!component || info.component === component)) out.push(info);
  }
  return out;
}

/**
 * Picks the snapshot of a component to restore: an explicit id, else the
 * newest at or before `at` (point-in-time), else the newest.
 */
export async function pickComponentSnapshot(repo: Repository, component: string, opts: { snapshot?: string; at?: Date } = {}): Promise<Snapshot> {
  if (opts.snapshot) {
    const s = await repo.resolveSnapshot(opts.snapshot);
    const info = componentInfo(s);
    if (!info || info.component !== component) {
      throw new CairnError('wrong-snapshot', `snapshot ${s.id.slice(0, 8)} is not a snapshot of component ${component}`, `List the component's snapshots with \`cairn backup list --component ${component}\`.`);
    }
    return s;
  }
  const all = await listComponentSnapshots(repo, component);
  const candidates = opts.at ? all.filter((i) => Date.parse(i.snapshot.time) <= opts.at!.getTime()) : all;
  const pick = candidates[candidates.length - 1];
  if (!pick) {
    const when = opts.at ? ` at or before ${opts.at.toISOString()}` : '';
    throw new CairnError('no-snapshot', `component ${component} has no snapshot${when}`, all.length ? `Its oldest snapshot is from ${all[0]!.snapshot.time}; pick a later --at.` : `Back it up first with \`cairn backup --component ${component}\`.`);
  }
  return pick.snapshot;
}
