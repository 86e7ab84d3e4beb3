import type { Command } from 'commander';
import { snapshotToResticJson } from '../../repo/snapshotCodec.js';
import type { Snapshot } from '../../repo/snapshot.js';
import { matchesFilter as engineMatches, parseTagList } from '../../engine/snapshotFilter.js';
import { openRepository, type RepoOptions } from '../repoAccess.js';
import { printJson, renderTable } from '../output.js';

const collect = (v: string, prev: string[]) => [...prev, v];

/** Local "YYYY-MM-DD HH:MM:SS" of an RFC 3339 time, as restic prints snapshot times. */
export function displayTime(rfc3339: string): string {
  const d = new Date(rfc3339);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** The CLI's --host / --tag / --path options applied with restic's rules (tags "a,b" = both; several --tag = any). */
export function matchesFilter(s: Snapshot, f: { host?: string[]; tag?: string[]; path?: string[] }): boolean {
  return engineMatches(s, { hosts: f.host, tags: f.tag?.map(parseTagList), paths: f.path });
}

/** `cairn snapshots`: list snapshots as a table, or as restic's JSON. */
export function registerSnapshots(program: Command): void {
  program
    .command('snapshots')
    .description('list snapshots')
    .argument('[ids...]', 'only these snapshots (ids or prefixes)')
    .option('--host <host>', 'only snapshots of this host (repeatable)', collect, [])
    .option('--tag <tags>', 'only snapshots with these tags ("a,b" = both; repeat for either)', collect, [])
    .option('--path <path>', 'only snapshots including this path (repeatable)', collect, [])
    .option('--latest <n>', 'only the newest n snapshots per host and paths', (v) => Number(v))
    .addHelpText('after', '\n--json prints the same fields as `restic snapshots --json`, so scripts written for restic keep working.\n')
    .action(async (ids: string[], _o, cmd: Command) => {
      const opts = cmd.optsWithGlobals<RepoOptions & { host: string[]; tag: string[]; path: string[]; latest?: number }>();
      const repo = await openRepository(opts, (m) => process.stderr.write(m + '\n'));
      try {
        let snaps = (await repo.loadSnapshots()).filter((s) => matchesFilter(s, opts));
        if (ids.length) snaps = snaps.filter((s) => ids.some((i) => s.id.startsWith(i)));
        if (opts.latest) {
          const groups = new Map<string, Snapshot[]>();
          for (const s of snaps) {
            const k = `${s.hostname}\0${[...s.paths].sort().join('\0')}`;
            groups.set(k, [...(groups.get(k) ?? []), s]);
          }
          snaps = [...groups.values()].flatMap((g) => g.slice(-opts.latest!));
          snaps.sort((a, b) => Date.parse(a.time) - Date.parse(b.time));
        }
        if (opts.json) {
          printJson(snaps.map(snapshotToResticJson));
          return;
        }
        const rows = snaps.map((s) => [s.id.slice(0, 8), displayTime(s.time), s.hostname ?? '', (s.tags ?? []).join(','), s.paths.join('\n')]);
        process.stdout.write(renderTable(['ID', 'Time', 'Host', 'Tags', 'Paths'], rows) + '\n');
        process.stdout.write(`${snaps.length} snapshot${snaps.length === 1 ? '' : 's'}\n`);
      } finally {
        await repo.close();
      }
    });
}
