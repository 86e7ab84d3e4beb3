import type { Command } from 'commander';
import { CairnError, ExitCode, describeError } from '../../errors.js';
import type { OrchestratorContext } from '../../orchestrator/context.js';
import type { ComponentOutcome } from '../../orchestrator/componentJobs.js';
import { listComponentSnapshots, componentInfo, componentManifestName } from '../../orchestrator/componentSnapshots.js';
import type { RestorePlan } from '../../orchestrator/restoreComponent.js';
import { SnapshotFolder } from '../../engine/snapshotContent.js';
import { openConfigRepository, openContext, withConfigOptions, loadCliConfig, type ConfigOptions } from '../configAccess.js';
import { confirm } from '../confirm.js';
import { formatBytes, printJson, renderTable } from '../output.js';
import { parseTimeOption } from '../timeOption.js';
import { displayTime } from './snapshots.js';

const collect = (v: string, prev: string[]) => [...prev, v];
// Jobs load the sources (and their client libraries) on use, so other commands start fast.
const jobs = () => import('../../orchestrator/componentJobs.js');

const log = (json: boolean) => (line: string) => {
  if (!json) process.stderr.write(line + '\n');
};

/** Prints the per-component result table and sets the exit code (0 only if all succeeded). */
function reportOutcomes(title: string, outcomes: ComponentOutcome[], json: boolean): void {
  if (json) printJson({ message_type: 'summary', job: title, components: outcomes });
  else {
    const rows = outcomes.map((o) => [o.component, o.status, o.snapshot?.slice(0, 8) ?? '', `${(o.durationMs / 1000).toFixed(1)}s`, o.message ? `${o.message}${o.remedy ? `\nremedy: ${o.remedy}` : ''}` : '']);
    process.stdout.write(renderTable(['Component', 'Result', 'Snapshot', 'Time', 'Details'], rows) + '\n');
  }
  if (outcomes.some((o) => o.status !== 'ok')) process.exitCode = ExitCode.failure;
}

/** `cairn backup` without paths: every (or the named) component of cairn.yaml, in dependency order. */
export async function runComponentBackup(opts: ConfigOptions & { component: string[]; dryRun?: boolean; reason?: string; copy?: boolean }): Promise<void> {
  if (opts.dryRun) {
    const loaded = await loadCliConfig(opts);
    const names = opts.component.length ? loaded.graph.select(opts.component).components : loaded.graph.backupOrder();
    for (const n of loaded.graph.backupOrder(names)) {
      const c = loaded.config.components[n]!;
      process.stdout.write(`would back up ${n}: ${c.sources.map((s) => `${s.name} (${s.type})`).join(', ') || 'no sources'}${c.stop.length ? ' [services stopped meanwhile]' : ''}\n`);
    }
    return;
  }
  const ctx = await openContext(opts, log(!!opts.json));
  try {
    const outcomes = await (await jobs()).backupComponents(ctx, opts.component, { reason: opts.reason ?? 'manual', kind: 'manual' });
    if (opts.copy !== false) await copyToTargets(ctx, opts, outcomes);
    reportOutcomes('backup', outcomes, !!opts.json);
  } finally {
    await ctx.repo.close();
  }
}

/** 3-2-1: copies the new snapshots to every copy target of cairn.yaml; a failing target marks its components failed. */
async function copyToTargets(ctx: OrchestratorContext, opts: ConfigOptions, outcomes: ComponentOutcome[]): Promise<void> {
  const ids = outcomes.filter((o) => o.status === 'ok' && o.snapshot).map((o) => o.snapshot!);
  if (ids.length === 0) return;
  const { copyTargets } = await import('../../orchestrator/config.js');
  const { copySnapshots } = await import('../../engine/copy.js');
  for (const target of copyTargets(ctx.loaded.config)) {
    try {
      const dst = await openConfigRepository(ctx.loaded, opts, ctx.log, target);
      try {
        const r = await copySnapshots(ctx.repo, dst, { ids });
        ctx.log(`copied ${r.copied.length} snapshot(s) to ${target}${r.skipped.length ? ` (${r.skipped.length} already there)` : ''}`);
      } finally {
        await dst.close();
      }
      for (const o of outcomes) if (o.status === 'ok') o.message = [o.message, `copied to ${target}`].filter(Boolean).join('; ');
    } catch (err) {
      for (const o of outcomes) {
        if (o.status !== 'ok') continue;
        o.status = 'failed';
        o.message = `backup ok, but the copy to ${target} failed: ${describeError(err)}`;
        o.remedy = err instanceof CairnError ? err.remedy : `Check repository ${target} in cairn.yaml, then run \`cairn copy\`.`;
      }
    }
  }
}

/** `cairn backup list`: the component snapshots (Leger's view). */
export async function runBackupList(opts: ConfigOptions & { component: string[] }): Promise<void> {
  const ctx = await openContext(opts, log(!!opts.json));
  try {
    let infos = await listComponentSnapshots(ctx.repo);
    if (opts.component.length) infos = infos.filter((i) => opts.component.includes(i.component));
    const rows = infos.map((i) => ({
      id: i.snapshot.id,
      component: i.component,
      created_at: i.snapshot.time,
      type: i.kind,
      reason: i.reason,
      size: i.snapshot.summary?.total_bytes_processed ?? 0,
    }));
    if (opts.json) printJson(rows);
    else {
      process.stdout.write(renderTable(['ID', 'Component', 'Created', 'Type', 'Reason', 'Size'], rows.map((r) => [r.id.slice(0, 8), r.component, displayTime(r.created_at), r.type, r.reason, formatBytes(r.size)])) + '\n');
      process.stdout.write(`${rows.length} backup${rows.length === 1 ? '' : 's'}\n`);
    }
  } finally {
    await ctx.repo.close();
  }
}

/** `cairn backup info ID`: what one component snapshot holds. */
export async function runBackupInfo(id: string, opts: ConfigOptions): Promise<void> {
  const ctx = await openContext(opts, log(!!opts.json));
  try {
    await ctx.repo.loadIndex();
    const snap = await ctx.repo.resolveSnapshot(id);
    const info = componentInfo(snap);
    if (!info) throw new CairnError('not-a-component-snapshot', `snapshot ${snap.id.slice(0, 8)} is not a component backup`, 'Use `cairn ls` for plain snapshots; `cairn backup list` shows component backups.');
    const folder = new SnapshotFolder(ctx.repo, snap, `/${info.component}`);
    let manifest: unknown;
    try {
      const chunks: Buffer[] = [];
      for await (const c of await folder.openStream(componentManifestName)) chunks.push(c as Buffer);
      manifest = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      manifest = undefined;
    }
    const sources = [];
    for (const item of await folder.items()) {
      if (item.name === componentManifestName) continue;
      const sub = new SnapshotFolder(ctx.repo, snap, `/${info.component}/${item.name}`);
      sources.push({ name: item.name, items: await sub.items() });
    }
    const out = { id: snap.id, component: info.component, created_at: snap.time, type: info.kind, reason: info.reason, host: snap.hostname, size: snap.summary?.total_bytes_processed ?? 0, added: snap.summary?.data_added ?? 0, sources, manifest };
    if (opts.json) {
      printJson(out);
      return;
    }
    process.stdout.write(`backup ${snap.id.slice(0, 8)} of ${info.component}\n  created: ${displayTime(snap.time)} on ${snap.hostname}\n  type: ${info.kind}   reason: ${info.reason}\n  size: ${formatBytes(out.size)} (${formatBytes(out.added)} new)\n`);
    const recorded = new Map(((manifest as { sources?: { name: string; type: string; metadata?: unknown }[] } | undefined)?.sources ?? []).map((m) => [m.name, m]));
    for (const s of sources) {
      const m = recorded.get(s.name);
      process.stdout.write(`  source ${s.name}${m ? ` (${m.type})` : ''}:\n`);
      for (const it of s.items) process.stdout.write(`    ${it.type === 'dir' ? 'folder' : 'file  '} ${it.name}${it.type === 'file' ? ` (${formatBytes(it.size)})` : ''}\n`);
      if (m?.metadata && typeof m.metadata === 'object') {
        // what the source recorded at backup time: versions, volumes with sizes, images and digests...
        for (const [k, v] of Object.entries(m.metadata as Record<string, unknown>)) {
          const text = typeof v === 'string' || typeof v === 'number' ? String(v) : JSON.stringify(v);
          process.stdout.write(`    ${k}: ${text.length > 300 ? `${text.slice(0, 300)}…` : text}\n`);
        }
      }
    }
  } finally {
    await ctx.repo.close();
  }
}

function printPlan(plan: RestorePlan): void {
  process.stdout.write(`restore ${plan.component} from snapshot ${plan.snapshot.id.slice(0, 8)} (${displayTime(plan.snapshot.time)})${plan.inPlace ? ', replacing the live data' : ''}:\n`);
  for (const s of plan.sources) {
    process.stdout.write(`  ${s.name} (${s.type}): ${s.missing ? 'not in this snapshot, left as it is' : `${s.items.join(', ')} → ${s.target}`}\n`);
  }
}

/** Parses --to: "VALUE" for every source, or "source=VALUE" (repeatable). */
function parseTo(values: string[]): string | Record<string, string> | undefined {
  if (values.length === 0) return undefined;
  if (values.length === 1 && !/^[A-Za-z0-9][\w.-]*=/.test(values[0]!)) return values[0];
  const out: Record<string, string> = {};
  for (const v of values) {
    const i = v.indexOf('=');
    if (i < 1) throw new CairnError('usage', `--to "${v}" must be SOURCE=TARGET when several are given`, 'Use --to TARGET for every source, or --to db=app_copy --to files=/tmp/restore.');
    out[v.slice(0, i)] = v.slice(i + 1);
  }
  return out;
}

/** `cairn restore --component NAME ...`: restore one component, with safety snapshot and rollback. */
export async function runComponentRestore(opts: ConfigOptions & { component: string; snapshot?: string; at?: string; to: string[]; preview?: boolean; force?: boolean }): Promise<void> {
  const ctx = await openContext(opts, log(!!opts.json));
  try {
    const { restoreComponent } = await import('../../orchestrator/restoreComponent.js');
    const result = await restoreComponent(ctx, opts.component, {
      snapshot: opts.snapshot,
      at: opts.at ? parseTimeOption(opts.at) : undefined,
      to: parseTo(opts.to),
      preview: opts.preview,
      confirm: async (plan) => {
        if (!opts.json) printPlan(plan);
        if (opts.force) return true;
        return confirm('Go ahead? A safety snapshot is taken first.');
      },
    });
    if (opts.json) printJson({ message_type: 'summary', component: opts.component, snapshot: result.plan.snapshot.id, safety_snapshot: result.safetySnapshot, restored: result.restored, preview: !!opts.preview });
    else if (opts.preview) printPlan(result.plan);
    else process.stdout.write(`restored ${result.restored.join(', ') || 'nothing'} of ${opts.component} from ${result.plan.snapshot.id.slice(0, 8)}${result.safetySnapshot ? ` (safety snapshot ${result.safetySnapshot.slice(0, 8)})` : ''}\n`);
  } finally {
    await ctx.repo.close();
  }
}

/** `cairn teardown` and `cairn recover`. */
export function registerStackCommands(program: Command): void {
  withConfigOptions(
    program
      .command('teardown')
      .description('remove components (reverse dependency order) after an automatic backup of each')
      .option('--component <name>', 'only this component (repeatable)', collect, [])
      .option('--no-backup', 'skip the automatic backup (asks first; needs --force without a terminal)')
      .option('-f, --force', 'do not ask')
      .option('-n, --dry-run', 'show what would be removed'),
  ).action(async (_o, cmd: Command) => {
    const opts = cmd.optsWithGlobals<ConfigOptions & { component: string[]; backup: boolean; force?: boolean; dryRun?: boolean }>();
    if (opts.dryRun) {
      const loaded = await loadCliConfig(opts);
      const names = opts.component.length ? loaded.graph.select(opts.component).components : [...loaded.graph.names];
      for (const n of loaded.graph.teardownOrder(names)) process.stdout.write(`would ${opts.backup ? 'back up, then ' : ''}remove ${n}: ${loaded.config.components[n]!.sources.map((s) => s.name).join(', ')}\n`);
      return;
    }
    if (!opts.backup && !opts.force && !(await confirm('Tear down WITHOUT a backup first? The data will be gone.'))) {
      throw new CairnError('not-confirmed', 'teardown without backup was not confirmed; nothing changed', 'Drop --no-backup (recommended), or add --force.');
    }
    const ctx = await openContext(opts, log(!!opts.json));
    try {
      reportOutcomes('teardown', await (await jobs()).teardownComponents(ctx, opts.component, { noBackup: !opts.backup }), !!opts.json);
    } finally {
      await ctx.repo.close();
    }
  });
  withConfigOptions(
    program
      .command('recover')
      .description('bring components back in dependency order from their newest (or --at) snapshots')
      .option('--component <name>', 'only this component (repeatable)', collect, [])
      .option('--at <time>', 'point in time: the newest snapshot at or before it'),
  ).action(async (_o, cmd: Command) => {
    const opts = cmd.optsWithGlobals<ConfigOptions & { component: string[]; at?: string }>();
    const ctx = await openContext(opts, log(!!opts.json));
    try {
      reportOutcomes('recover', await (await jobs()).recoverComponents(ctx, opts.component, { at: opts.at ? parseTimeOption(opts.at) : undefined }), !!opts.json);
    } finally {
      await ctx.repo.close();
    }
  });
}
