// The bench's one table (cairn vs restic per step, with cairn/restic ratios; below 1 means cairn
// used less), for the terminal (cli-table3) and as Markdown for the README.
import Table from 'cli-table3';
import { formatBytes } from './files.js';
import type { BenchResult, StepResult, ToolRun } from './results.js';

const head = ['step', 'cairn wall', 'restic wall', 'ratio', 'cairn CPU', 'restic CPU', 'cairn peak RSS', 'restic peak RSS', 'ratio', 'ok (cairn / restic)'];

const secs = (s: number | undefined): string => (s === undefined ? '–' : s >= 100 ? `${s.toFixed(0)} s` : s >= 10 ? `${s.toFixed(1)} s` : `${s.toFixed(2)} s`);
const mib = (b: number | undefined): string => (b === undefined ? '–' : `${(b / 1024 / 1024).toFixed(0)} MiB`);
const ratio = (a: number | undefined, b: number | undefined): string => (a === undefined || b === undefined || b === 0 ? '–' : `${(a / b).toFixed(2)}`);
const okText = (r: ToolRun | undefined): string => (r === undefined ? '–' : r.ok ? 'ok' : 'FAIL');

function stepRow(s: StepResult): string[] {
  const c = s.runs.cairn?.measurement;
  const r = s.runs.restic?.measurement;
  return [
    s.step,
    secs(c?.wallSeconds),
    secs(r?.wallSeconds),
    ratio(c?.wallSeconds, r?.wallSeconds),
    secs(c?.cpuSeconds),
    secs(r?.cpuSeconds),
    mib(c?.peakRssBytes),
    mib(r?.peakRssBytes),
    ratio(c?.peakRssBytes, r?.peakRssBytes),
    `${okText(s.runs.cairn)} / ${okText(s.runs.restic)}`,
  ];
}

/** The table rows (header first), the same for both renderings. */
export function tableRows(res: BenchResult): string[][] {
  const rows = [head, ...res.steps.map(stepRow)];
  const sizes: [string, keyof BenchResult['repoSizes']][] = [['repo size after first', 'afterFirst'], ['repo size after incremental', 'afterIncremental'], ['repo size at the end', 'final']];
  for (const [label, key] of sizes) {
    const c = res.repoSizes[key].cairn;
    const r = res.repoSizes[key].restic;
    if (c === undefined && r === undefined) continue;
    rows.push([label, c === undefined ? '–' : formatBytes(c), r === undefined ? '–' : formatBytes(r), ratio(c, r), '', '', '', '', '', '']);
  }
  return rows;
}

/** Lines under the table: data set, throughput, load, versions, fairness notes. */
export function footnotes(res: BenchResult): string[] {
  const d = res.dataset;
  const lines = [
    `data set (${res.case}, seed ${res.seed}): ${d.files} files, ${formatBytes(d.bytes)}; ` + Object.entries(d.composition).map(([k, v]) => `${k} ${formatBytes(v.bytes)} in ${v.files}`).join('; '),
  ];
  if (res.mutation) {
    const m = res.mutation;
    lines.push(`mutation before the incremental backup: ${m.modified} modified, ${m.appended} appended, ${m.added} added, ${m.deleted} deleted files, ${formatBytes(m.bytesWritten)} written`);
  }
  for (const s of res.steps) {
    const parts = (['cairn', 'restic'] as const).flatMap((t) => {
      const r = s.runs[t];
      return r ? [`${t} ${r.mibPerSecond.toFixed(0)} MiB/s${s.dataFiles >= 1000 ? `, ${r.filesPerSecond.toFixed(0)} files/s` : ''}`] : [];
    });
    lines.push(`throughput, ${s.step}: ${parts.join('; ')} (ran ${s.order.join(' then ')})`);
  }
  for (const s of res.steps) {
    for (const t of ['cairn', 'restic'] as const) {
      const r = s.runs[t];
      if (!r) continue;
      if (r.verdict && !r.verdict.ok) lines.push(`${t} ${s.step} is WRONG: ${r.verdict.problemCount} differences, e.g. ${r.verdict.problems.slice(0, 3).join('; ')}`);
      if (r.verdict && r.verdict.mtimeDiffers > 0) lines.push(`${t} ${s.step}: ${r.verdict.mtimeDiffers} files restored with another modification time`);
      if (r.error) lines.push(`${t} ${s.step} failed (exit ${r.measurement.exitCode}): ${r.error}`);
    }
  }
  const la = (l: number[]) => l.map((x) => x.toFixed(2)).join(' ');
  lines.push(`machine: ${res.machine.cpus} × ${res.machine.model}, ${formatBytes(res.machine.memoryBytes)} RAM; load average ${la(res.machine.loadAtStart)} at start, ${la(res.machine.loadAtEnd)} at the end (shared machine)`);
  lines.push(`versions: cairn ${res.versions.cairn}; ${res.versions.restic}; node ${res.versions.node}`);
  lines.push(...res.notes);
  return lines;
}

/** The table for a terminal. */
export function renderTable(res: BenchResult): string {
  const [h, ...body] = tableRows(res);
  const t = new Table({ head: h!, style: { head: [], border: [], compact: true }, colAligns: ['left', 'right', 'right', 'right', 'right', 'right', 'right', 'right', 'right', 'center'] });
  for (const r of body) t.push(r);
  return t.toString();
}

/** The table as Markdown (for README.md), with the footnotes as a list. */
export function renderMarkdown(res: BenchResult): string {
  const [h, ...body] = tableRows(res);
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [
    line(h!),
    line(h!.map((_, i) => (i === 0 ? '---' : i === h!.length - 1 ? ':-:' : '---:'))),
    ...body.map(line),
    '',
    ...footnotes(res).map((l) => `- ${l}`),
    '',
  ].join('\n');
}
