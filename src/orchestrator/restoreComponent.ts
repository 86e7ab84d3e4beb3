import { SnapshotFolder } from '../engine/snapshotContent.js';
import { CairnError, describeError } from '../errors.js';
import type { Snapshot } from '../repo/snapshot.js';
import { backupComponent } from './backupComponent.js';
import { pickComponentSnapshot } from './componentSnapshots.js';
import type { ComponentConfig } from './config.js';
import { componentConfig, type OrchestratorContext } from './context.js';
import { checkHealth } from './healthCheck.js';
import { runCommands } from './runCommands.js';
import { createSource } from './sourceFactory.js';

/** Options of a component restore. */
export interface ComponentRestoreOptions {
  /** Snapshot id (or prefix) to restore; default: the newest (or the newest at or before `at`). */
  snapshot?: string;
  /** Point in time: the newest snapshot at or before it. */
  at?: Date;
  /**
   * Restore somewhere else instead of over the live data: one target for every
   * source, or per source name (a directory, a database name).
   */
  to?: string | Record<string, string>;
  /** Show what would happen, change nothing. */
  preview?: boolean;
  /** Asked before anything changes; false aborts. Not called for --to or --preview. */
  confirm?: (plan: RestorePlan) => Promise<boolean>;
}

/** What a restore is going to do. */
export interface RestorePlan {
  component: string;
  snapshot: Snapshot;
  /** Per source: stored items and where they go. */
  sources: { name: string; type: string; items: string[]; target: string; missing: boolean }[];
  inPlace: boolean;
}

/** What a restore did. */
export interface ComponentRestoreResult {
  plan: RestorePlan;
  /** The safety snapshot taken before changing live data. */
  safetySnapshot?: string;
  restored: string[];
}

function targetFor(to: ComponentRestoreOptions['to'], source: string): string | undefined {
  if (to === undefined) return undefined;
  if (typeof to === 'string') return to;
  return to[source];
}

/** Works out what restoring `snapshot` of the component will touch. */
export async function planRestore(ctx: OrchestratorContext, name: string, snapshot: Snapshot, to: ComponentRestoreOptions['to']): Promise<RestorePlan> {
  const comp = componentConfig(ctx, name);
  const sources: RestorePlan['sources'] = [];
  for (const cfg of comp.sources) {
    const folder = new SnapshotFolder(ctx.repo, snapshot, `/${name}/${cfg.name}`);
    let items: string[] = [];
    let missing = false;
    try {
      items = await folder.names();
    } catch {
      missing = true;
    }
    const t = targetFor(to, cfg.name);
    sources.push({ name: cfg.name, type: cfg.type, items, target: t ?? describeLive(cfg), missing });
  }
  return { component: name, snapshot, sources, inPlace: to === undefined };
}

function describeLive(cfg: ComponentConfig['sources'][number]): string {
  switch (cfg.type) {
    case 'files':
      return cfg.paths.join(', ');
    case 'postgres':
    case 'mysql':
    case 'mariadb':
      return `database ${cfg.database}`;
    case 'sqlite':
      return cfg.path;
    case 'redis':
      return `redis ${cfg.socket ?? `${cfg.host}:${cfg.port}`}`;
    case 'command':
      return cfg.restore ? 'the restore command' : '(no restore command)';
    case 'podman':
      return `podman volumes ${cfg.volumes.join(', ') || '(from the quadlets)'} and unit files`;
    case 'docker':
      return `docker ${cfg.project ? `project ${cfg.project}` : `volumes ${cfg.volumes.join(', ')}`}`;
  }
}

/** Restores every source of the component from `snapshot` (over the live data, or into `to`). */
async function restoreSources(ctx: OrchestratorContext, name: string, comp: ComponentConfig, snapshot: Snapshot, to: ComponentRestoreOptions['to']): Promise<string[]> {
  const done: string[] = [];
  for (const cfg of comp.sources) {
    const folder = new SnapshotFolder(ctx.repo, snapshot, `/${name}/${cfg.name}`);
    try {
      await folder.names();
    } catch {
      ctx.log(`${name}: source ${cfg.name} is not in snapshot ${snapshot.id.slice(0, 8)}; left as it is`);
      continue;
    }
    ctx.log(`${name}: restoring ${cfg.name}`);
    try {
      const source = createSource(cfg, ctx.log);
      const target = targetFor(to, cfg.name);
      // in place, the services writing the data are stopped meanwhile (containers of a volume)
      if (target === undefined && source.quiesce) await source.quiesce(() => source.restore(folder, {}));
      else await source.restore(folder, { to: target });
    } catch (err) {
      throw new CairnError('restore-failed', `restoring source ${cfg.name} of ${name} failed: ${describeError(err)}`, err instanceof CairnError ? err.remedy : `Check the target of ${cfg.name}.`);
    }
    done.push(cfg.name);
  }
  return done;
}

/** Stop, restore sources, start, check health: the in-place restore sequence (start runs even after a failure). */
async function restoreInPlace(ctx: OrchestratorContext, name: string, comp: ComponentConfig, snapshot: Snapshot): Promise<string[]> {
  await runCommands(comp.stop, `stop command of ${name}`);
  let restored: string[] = [];
  let failure: unknown;
  try {
    restored = await restoreSources(ctx, name, comp, snapshot, undefined);
  } catch (err) {
    failure = err;
  }
  try {
    await runCommands(comp.start, `start command of ${name}`);
  } catch (err) {
    failure ??= err;
  }
  if (failure) throw failure;
  if (comp.health) await checkHealth(name, comp.health);
  return restored;
}

/**
 * Restores a component. With `to`, into another place and nothing live is
 * touched. In place: a safety snapshot first (reason=before-restore), then
 * stop → restore every source → start → health check; if any step fails the
 * safety snapshot is restored the same way and the error says what failed and
 * whether the rollback worked.
 */
export async function restoreComponent(ctx: OrchestratorContext, name: string, opts: ComponentRestoreOptions = {}): Promise<ComponentRestoreResult> {
  const comp = componentConfig(ctx, name);
  await ctx.repo.loadIndex();
  const snapshot = await pickComponentSnapshot(ctx.repo, name, { snapshot: opts.snapshot, at: opts.at });
  const plan = await planRestore(ctx, name, snapshot, opts.to);
  if (opts.preview) return { plan, restored: [] };
  if (opts.to !== undefined) {
    const restored = await restoreSources(ctx, name, comp, snapshot, opts.to);
    return { plan, restored };
  }
  if (!opts.confirm || !(await opts.confirm(plan))) {
    throw new CairnError('not-confirmed', `restore of ${name} was not confirmed; nothing changed`, 'Run it again and answer yes, or add --force (use --preview to see what would change).');
  }
  ctx.log(`${name}: taking a safety snapshot of the current state`);
  const safety = await backupComponent(ctx, name, { reason: 'before-restore', kind: 'automatic' });
  try {
    const restored = await restoreInPlace(ctx, name, comp, snapshot);
    return { plan, safetySnapshot: safety.snapshot.id, restored };
  } catch (err) {
    ctx.log(`${name}: restore failed (${describeError(err)}); rolling back to safety snapshot ${safety.snapshot.id.slice(0, 8)}`);
    try {
      await ctx.repo.loadIndex();
      await restoreInPlace(ctx, name, comp, safety.snapshot);
    } catch (rollbackErr) {
      throw new CairnError(
        'rollback-failed',
        `restore of ${name} failed: ${describeError(err)}; the rollback to safety snapshot ${safety.snapshot.id.slice(0, 8)} also failed: ${describeError(rollbackErr)}`,
        `The component may be half-restored. Fix the cause, then run \`cairn restore --component ${name} --snapshot ${safety.snapshot.id.slice(0, 8)} --force\`.`,
      );
    }
    throw new CairnError(
      'restore-rolled-back',
      `restore of ${name} failed: ${describeError(err)}; rolled back to the state before the restore (safety snapshot ${safety.snapshot.id.slice(0, 8)}), rollback succeeded`,
      err instanceof CairnError ? err.remedy : `Fix the cause, then run the restore again.`,
    );
  }
}
