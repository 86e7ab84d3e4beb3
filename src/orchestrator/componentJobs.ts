import { CairnError, describeError } from '../errors.js';
import { backupComponent } from './backupComponent.js';
import { applyComponentRetention } from './componentRetention.js';
import { pickComponentSnapshot } from './componentSnapshots.js';
import { componentConfig, type OrchestratorContext } from './context.js';
import { checkHealth } from './healthCheck.js';
import { runCommands } from './runCommands.js';
import { createSource } from './sourceFactory.js';
import { SnapshotFolder } from '../engine/snapshotContent.js';

/** The outcome for one component of a multi-component job. */
export interface ComponentOutcome {
  component: string;
  status: 'ok' | 'failed' | 'skipped';
  snapshot?: string;
  message?: string;
  remedy?: string;
  durationMs: number;
}

function failed(component: string, err: unknown, started: number): ComponentOutcome {
  return {
    component,
    status: 'failed',
    message: describeError(err),
    remedy: err instanceof CairnError ? err.remedy : 'See the message; rerun with CAIRN_DEBUG=1 for details.',
    durationMs: Date.now() - started,
  };
}

/** Picks the components a job works on, in `order`; `names` empty means all. */
function selected(ctx: OrchestratorContext, names: readonly string[], order: 'backup' | 'teardown' | 'recover'): string[] {
  const graph = ctx.loaded.graph;
  const chosen = names.length ? graph.select(names).components : [...graph.names];
  if (order === 'teardown') return graph.teardownOrder(chosen);
  if (order === 'recover') return graph.recoverOrder(chosen);
  return graph.backupOrder(chosen);
}

/**
 * Backs up components in dependency order, one snapshot each. A component's
 * failure does not stop the others; each gets an outcome with a remedy.
 */
export async function backupComponents(ctx: OrchestratorContext, names: readonly string[], opts: { reason?: string; kind?: 'manual' | 'automatic'; retention?: boolean } = {}): Promise<ComponentOutcome[]> {
  const out: ComponentOutcome[] = [];
  for (const name of selected(ctx, names, 'backup')) {
    const started = Date.now();
    try {
      const r = await backupComponent(ctx, name, { reason: opts.reason ?? 'manual', kind: opts.kind ?? 'manual' });
      const outcome: ComponentOutcome = { component: name, status: 'ok', snapshot: r.snapshot.id, durationMs: Date.now() - started };
      if (opts.retention !== false) {
        try {
          const kept = await applyComponentRetention(ctx, name);
          if (kept.removed.length) outcome.message = `retention removed ${kept.removed.length} old snapshot(s)`;
        } catch (err) {
          outcome.message = `backup ok; retention skipped: ${describeError(err)}`;
        }
      }
      out.push(outcome);
    } catch (err) {
      out.push(failed(name, err, started));
    }
  }
  return out;
}

/**
 * Tears components down in reverse dependency order: first an automatic
 * backup of each (unless `noBackup`), then its stop commands and every
 * source's removal (drop database, delete files...). A component whose
 * backup failed is not torn down.
 */
export async function teardownComponents(ctx: OrchestratorContext, names: readonly string[], opts: { noBackup?: boolean } = {}): Promise<ComponentOutcome[]> {
  const order = selected(ctx, names, 'teardown');
  const backups = new Map<string, ComponentOutcome>();
  if (!opts.noBackup) {
    for (const o of await backupComponents(ctx, order, { reason: 'before-teardown', kind: 'automatic', retention: false })) backups.set(o.component, o);
  }
  const out: ComponentOutcome[] = [];
  for (const name of order) {
    const started = Date.now();
    const b = backups.get(name);
    if (b && b.status !== 'ok') {
      out.push({ component: name, status: 'skipped', message: `not torn down: its safety backup failed (${b.message})`, remedy: b.remedy, durationMs: 0 });
      continue;
    }
    const comp = componentConfig(ctx, name);
    const problems: string[] = [];
    try {
      await runCommands(comp.stop, `stop command of ${name}`);
    } catch (err) {
      problems.push(describeError(err));
    }
    for (const cfg of comp.sources) {
      const source = createSource(cfg, ctx.log);
      if (!source.remove) continue;
      try {
        ctx.log(`${name}: removing ${cfg.name}`);
        await source.remove();
      } catch (err) {
        problems.push(`${cfg.name}: ${describeError(err)}`);
      }
    }
    if (problems.length) out.push({ component: name, status: 'failed', snapshot: b?.snapshot, message: problems.join('; '), remedy: 'Remove what is left by hand; the backup taken before is listed by `cairn backup list`.', durationMs: Date.now() - started });
    else out.push({ component: name, status: 'ok', snapshot: b?.snapshot, durationMs: Date.now() - started });
  }
  return out;
}

/**
 * Brings components back in dependency order from their newest (or
 * point-in-time) snapshots: restore every source, run start commands, check
 * health. Stops at the first component that fails or is unhealthy; the rest
 * are reported as not recovered.
 */
export async function recoverComponents(ctx: OrchestratorContext, names: readonly string[], opts: { at?: Date } = {}): Promise<ComponentOutcome[]> {
  const order = selected(ctx, names, 'recover');
  await ctx.repo.loadIndex();
  const out: ComponentOutcome[] = [];
  let stopped: string | undefined;
  for (const name of order) {
    if (stopped) {
      out.push({ component: name, status: 'skipped', message: `not recovered: ${stopped} failed before it`, remedy: `Fix ${stopped}, then run \`cairn recover --component ${name}\`.`, durationMs: 0 });
      continue;
    }
    const started = Date.now();
    try {
      const comp = componentConfig(ctx, name);
      const snapshot = await pickComponentSnapshot(ctx.repo, name, { at: opts.at });
      ctx.log(`${name}: recovering from snapshot ${snapshot.id.slice(0, 8)} (${snapshot.time})`);
      // services may already be down after a teardown: stopping is best effort here
      await runCommands(comp.stop, `stop command of ${name}`).catch(() => {});
      for (const cfg of comp.sources) {
        const folder = new SnapshotFolder(ctx.repo, snapshot, `/${name}/${cfg.name}`);
        const source = createSource(cfg, ctx.log);
        await source.restore(folder, {});
      }
      await runCommands(comp.start, `start command of ${name}`);
      if (comp.health) await checkHealth(name, comp.health);
      out.push({ component: name, status: 'ok', snapshot: snapshot.id, durationMs: Date.now() - started });
    } catch (err) {
      out.push(failed(name, err, started));
      stopped = name;
    }
  }
  return out;
}
