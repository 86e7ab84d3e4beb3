import { Readable } from 'node:stream';
import type { ArchiveEntry } from '../engine/archiver.js';
import { backupEntries, type BackupResult } from '../engine/backup.js';
import { CairnError, describeError } from '../errors.js';
import { withSourcesQuiesced, type SourceItem } from '../sources/source.js';
import { componentManifestName, componentTags, type SnapshotKind } from './componentSnapshots.js';
export { componentManifestName };
import { componentConfig, contextHost, type OrchestratorContext } from './context.js';
import { runCommands } from './runCommands.js';
import { createSource } from './sourceFactory.js';


/** Why and how a component backup is made. */
export interface ComponentBackupOptions {
  reason: string;
  kind: SnapshotKind;
  time?: Date;
}

function itemEntry(item: SourceItem): ArchiveEntry {
  if (item.type === 'tree') return { kind: 'fs', name: item.name, path: item.path };
  return { kind: 'stream', name: item.name, open: item.open, mode: item.mode, mtime: item.mtime };
}

/**
 * Backs up one component into one snapshot (`/<component>/<source>/<item>`,
 * tagged component=, reason=, kind=): pre hooks, stop commands, every
 * source, start commands (always, also after a failure), post hooks. A
 * failing source fails the whole snapshot: no partial dump is ever stored as
 * if complete.
 */
export async function backupComponent(ctx: OrchestratorContext, name: string, opts: ComponentBackupOptions): Promise<BackupResult> {
  const comp = componentConfig(ctx, name);
  await runCommands(comp.pre, `pre hook of ${name}`);
  let stopped = false;
  let result: BackupResult | undefined;
  let failure: unknown;
  try {
    if (comp.stop.length) {
      ctx.log(`${name}: stopping services`);
      stopped = true;
      await runCommands(comp.stop, `stop command of ${name}`);
    }
    const sources = comp.sources.map((cfg) => createSource(cfg, ctx.log));
    // every source's writers (containers of a volume) stay stopped while it is read
    result = await withSourcesQuiesced(sources, async () => {
      const sourceDirs: ArchiveEntry[] = [];
      const excludes: string[] = [];
      const manifest: { component: string; sources: Record<string, unknown>[] } = { component: name, sources: [] };
      for (const [i, cfg] of comp.sources.entries()) {
        const source = sources[i]!;
        const items = await source.items();
        for (const it of items) if (it.type === 'tree' && it.excludes) excludes.push(...it.excludes);
        let metadata: unknown;
        try {
          metadata = await source.metadata?.();
        } catch (err) {
          metadata = { error: describeError(err) };
        }
        manifest.sources.push({ name: cfg.name, type: cfg.type, items: items.map((it) => ({ name: it.name, type: it.type })), metadata });
        sourceDirs.push({ kind: 'dir', name: cfg.name, children: items.map(itemEntry) });
      }
      const manifestBytes = Buffer.from(JSON.stringify(manifest, null, 2) + '\n');
      sourceDirs.push({ kind: 'stream', name: componentManifestName, open: () => Readable.from([manifestBytes]), mode: 0o644 });
      ctx.log(`${name}: backing up ${comp.sources.length} source(s)`);
      return backupEntries(ctx.repo, [{ kind: 'dir', name, children: sourceDirs }], [`/${name}`], {
        tags: componentTags(name, opts.kind, opts.reason, comp.tags),
        host: contextHost(ctx),
        time: opts.time,
        excludes,
        onError: (p, err) => ctx.log(`${name}: cannot read ${p}: ${err.message}`),
      });
    });
  } catch (err) {
    failure = err;
  } finally {
    if (stopped) {
      try {
        ctx.log(`${name}: starting services`);
        await runCommands(comp.start, `start command of ${name}`);
      } catch (startErr) {
        // a service left stopped is worse than a failed backup: say both
        const first = failure ? `${describeError(failure)}; and then ` : '';
        failure = new CairnError('start-failed', `${first}${describeError(startErr)}`, `Start the services of ${name} by hand (its start: commands in cairn.yaml).`);
      }
    }
  }
  if (failure) {
    await runCommands(comp.on_failure, `on_failure hook of ${name}`).catch(() => {});
    throw failure;
  }
  await runCommands(comp.post, `post hook of ${name}`);
  if (result!.errors.length) {
    throw new CairnError('incomplete', `${result!.errors.length} path(s) of ${name} could not be read (snapshot ${result!.snapshot.id.slice(0, 8)} is incomplete)`, 'Check the permissions of the paths named above.', 3);
  }
  return result!;
}
