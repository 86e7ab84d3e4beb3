import { createRequire } from 'node:module';
import type Table from 'cli-table3';
import type cliProgress from 'cli-progress';

// Both packages are CommonJS and only some commands draw a table or a bar: they are
// required on first use, synchronously, so the other commands do not pay for loading them.
const require = createRequire(import.meta.url);

/** Formats a byte count like restic (KiB, MiB, GiB). */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${v.toFixed(3)} ${units[i]}`;
}

/** Formats seconds as m:ss or h:mm:ss. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

/** A plain table for lists (borderless like restic's, with a rule under the header). */
export function renderTable(head: string[], rows: (string | number)[][]): string {
  const TableClass = require('cli-table3') as typeof Table;
  const table = new TableClass({
    head,
    style: { head: [], border: [], compact: true, 'padding-left': 0, 'padding-right': 2 },
    chars: { top: '', 'top-mid': '', 'top-left': '', 'top-right': '', bottom: '', 'bottom-mid': '', 'bottom-left': '', 'bottom-right': '', left: '', 'left-mid': '', mid: '', 'mid-mid': '', right: '', 'right-mid': '', middle: '' },
  });
  for (const r of rows) table.push(r.map(String));
  const lines = table.toString().split('\n').map((l) => l.trimEnd());
  const width = Math.max(...lines.map((l) => l.length), 10);
  const rule = '-'.repeat(width);
  return [lines[0], rule, ...lines.slice(1), rule].join('\n');
}

/** Writes one JSON document (or JSON line) to stdout. */
export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value) + '\n');
}

/** Progress of a long operation: a bar on a TTY, JSON status lines with --json, nothing otherwise. */
export class ProgressReporter {
  private bar: cliProgress.SingleBar | undefined;
  private lastJson = 0;
  private readonly started = Date.now();

  constructor(
    private readonly json: boolean,
    private readonly label: string,
    private readonly stream: NodeJS.WriteStream = process.stderr,
  ) {}

  /** Updates the display; `total` may be unknown (0). */
  update(done: number, total: number, detail: Record<string, unknown> = {}): void {
    if (this.json) {
      const now = Date.now();
      if (now - this.lastJson < 1000) return;
      this.lastJson = now;
      const elapsed = (now - this.started) / 1000;
      printJson({ message_type: 'status', seconds_elapsed: Math.round(elapsed), percent_done: total > 0 ? done / total : 0, ...detail });
      return;
    }
    if (!this.stream.isTTY) return;
    if (!this.bar) {
      const bars = require('cli-progress') as typeof cliProgress;
      this.bar = new bars.SingleBar(
        { format: `${this.label} [{bar}] {percentage}% | {doneText} | {rate}/s | ETA {eta_formatted}`, hideCursor: true, clearOnComplete: true, stream: this.stream, etaBuffer: 50 },
        bars.Presets.shades_classic,
      );
      this.bar.start(Math.max(total, 1), 0, { doneText: '', rate: '' });
    }
    const elapsed = Math.max((Date.now() - this.started) / 1000, 0.001);
    if (total > 0) this.bar.setTotal(total);
    this.bar.update(done, { doneText: formatBytes(done), rate: formatBytes(Math.round(done / elapsed)), ...detail });
  }

  stop(): void {
    this.bar?.stop();
    this.bar = undefined;
  }
}
