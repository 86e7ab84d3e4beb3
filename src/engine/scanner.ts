import fs from 'node:fs';
import path from 'node:path';
import type { ExcludeFilter } from './excludeFilter.js';

/** How much a backup will look at: counted ahead (stat only) so progress can show a percentage and an ETA. */
export interface ScanTotals {
  files: number;
  bytes: number;
  done: boolean;
}

/**
 * Walks `paths` counting regular files and their sizes, like restic's scanner.
 * Runs alongside the backup; `totals` fills in as it goes. Errors are ignored
 * here (the archiver reports them).
 */
export function startScan(paths: string[], filter: ExcludeFilter): ScanTotals {
  const totals: ScanTotals = { files: 0, bytes: 0, done: false };
  let sinceYield = 0;
  const walk = async (p: string): Promise<void> => {
    if (filter.excludes(p)) return;
    // blocking calls are cheap from the cache; yield now and then so the backup itself runs alongside
    if (++sinceYield >= 256) {
      sinceYield = 0;
      await new Promise((r) => setImmediate(r));
    }
    let st;
    try {
      st = fs.lstatSync(p);
    } catch {
      return;
    }
    if (st.isFile()) {
      totals.files++;
      totals.bytes += st.size;
    } else if (st.isDirectory()) {
      let names: string[] = [];
      try {
        names = fs.readdirSync(p);
      } catch {
        return;
      }
      for (const n of names) await walk(path.join(p, n));
    }
  };
  void (async () => {
    for (const p of paths) await walk(p);
    totals.done = true;
  })();
  return totals;
}
