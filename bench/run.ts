// `npm run bench`: cairn and the real restic side by side on one generated data set, step by step
// (first backup, 1% mutation, incremental, no-change, restore, check --read-data), each command
// measured with /usr/bin/time -v. Prints one table with cairn/restic ratios and writes the results
// to bench/results/latest.json (and latest.md). No pass/fail threshold: it is a measurement.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command as Cli, InvalidArgumentError, Option } from 'commander';
import type { BenchDataSet } from './benchCase.js';
import { bigFileDataSet } from './bigfile.js';
import { defaultDataSet } from './dataset.js';
import { formatBytes, parseSize, treeBytes } from './files.js';
import { measure, timeBinary, type Command, type Measurement } from './measure.js';
import { restRepos, sftpRepos, type RemoteRepos } from './remote.js';
import { type BenchResult, type RepoSizes, type StepName, type StepResult, type ToolRun } from './results.js';
import { footnotes, renderMarkdown, renderTable } from './table.js';
import { tinyDataSet } from './tiny.js';
import { cairnBin, cairnTool, resticTool, snapshotCairn, versions, type Tool, type ToolName } from './tools.js';
import { compare, manifest, type Manifest } from './verify.js';

const benchDir = path.dirname(fileURLToPath(import.meta.url));
const cases = ['default', 'bigfile', 'tiny', 'sftp', 'rest'] as const;
type CaseName = (typeof cases)[number];

interface Options {
  case: CaseName;
  size?: number;
  files: number;
  seed: string;
  dir?: string;
  keep: boolean;
  only?: ToolName;
  out?: string;
  cairn: string;
}

function parseOptions(argv: string[]): Options {
  const positiveInt = (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError('expected a positive whole number');
    return n;
  };
  const size = (v: string): number => {
    try {
      return parseSize(v);
    } catch (e) {
      throw new InvalidArgumentError((e as Error).message);
    }
  };
  const cli = new Cli('npm run bench --')
    .description('cairn vs restic on a generated data set: first, incremental and no-change backup, restore, check --read-data')
    .addOption(new Option('--case <name>', 'data set and repository kind').choices(cases).default('default'))
    .option('--size <size>', 'data set size, e.g. 2G, 512M (default 2G; bigfile: 4G)', size)
    .option('--files <n>', 'tiny case: number of files', positiveInt, 200_000)
    .option('--seed <seed>', 'seed of the generated data (same seed, same data)', 'cairn')
    .option('--dir <dir>', 'work folder (data, repositories, restores); default: a new temp folder under /tmp')
    .option('--keep', 'keep the work folder afterwards', false)
    .addOption(new Option('--only <tool>', 'run only one tool (for profiling)').choices(['cairn', 'restic']))
    .option('--cairn <file>', "the cairn CLI to run (e.g. another checkout's bin/cairn.js)", cairnBin)
    .option('--out <file>', 'where to write the JSON results (default bench/results/latest.json; other cases: latest-<case>.json)')
    .addHelpText('after', `
Examples:
  npm run bench                         # default data set, 2 GiB, local repositories
  npm run bench -- --size 1G --keep     # smaller, keep data and repositories for a look
  npm run bench -- --case bigfile       # one 4 GiB incompressible file
  npm run bench -- --case tiny          # 200,000 tiny files
  npm run bench -- --case sftp --size 512M   # repositories on a loopback OpenSSH sftp server
  npm run bench -- --case rest --size 512M   # repositories on a loopback rclone REST server
  npm run bench -- --only cairn         # profile cairn alone`);
  cli.parse(argv, { from: 'user' });
  return cli.opts<Options>();
}

const log = (msg: string): void => void process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);

function requireTools(only: ToolName | undefined, bin: string): void {
  const missing: string[] = [];
  if (!existsSync(timeBinary)) missing.push(`${timeBinary} (apt-get install time)`);
  if (only !== 'cairn' && spawnSync('restic', ['version']).status !== 0) missing.push('restic (apt-get install restic)');
  if (only !== 'restic' && spawnSync(process.execPath, [bin, '--version']).status !== 0) missing.push(`a working ${bin} (npm run build)`);
  if (missing.length) {
    process.stderr.write(`bench: missing ${missing.join(', ')}; run \`bash scripts/install-test-deps.sh\` as root.\n`);
    process.exit(1);
  }
}

/** Flushes dirty pages, so a step does not pay for the previous one's writes. Not timed. */
const flush = (): void => void spawnSync('sync');

/** The gist of a failure's output: its error lines if it has any (a crash's message, not its stack), else the last lines. */
function lastLines(s: string, n = 3): string {
  const lines = s.trim().split('\n').filter((l) => l.trim() !== '');
  const errors = lines.filter((l) => /^\s*(\w*Error\b|error:|Fatal|fatal:)/.test(l));
  return (errors.length ? errors.slice(0, n) : lines.slice(-n)).join(' | ').slice(0, 500);
}

/** The tool's JSON summary line of a backup, if it printed one. */
function backupSummary(stdout: string): Record<string, unknown> | undefined {
  for (const l of stdout.trim().split('\n').reverse()) {
    if (!l.startsWith('{')) continue;
    try {
      const o = JSON.parse(l) as Record<string, unknown>;
      if (o.message_type === 'summary') return o;
    } catch {
      // a progress line cut off by the 64 KiB tail
    }
  }
  return undefined;
}

function toRun(tool: ToolName, m: Measurement, data: { bytes: number; files: number }): ToolRun {
  const { stdout: _o, stderr: _e, ...measurement } = m;
  const run: ToolRun = {
    tool,
    measurement,
    ok: m.exitCode === 0,
    mibPerSecond: data.bytes / 1024 / 1024 / Math.max(m.wallSeconds, 0.01),
    filesPerSecond: data.files / Math.max(m.wallSeconds, 0.01),
  };
  if (m.exitCode !== 0) run.error = lastLines(m.stderr || m.stdout);
  return run;
}

async function main(): Promise<void> {
  const opts = parseOptions(process.argv.slice(2));
  opts.cairn = path.resolve(opts.cairn);
  requireTools(opts.only, opts.cairn);
  const dataSet: BenchDataSet = opts.case === 'bigfile' ? bigFileDataSet : opts.case === 'tiny' ? tinyDataSet(opts.files) : defaultDataSet;
  const size = opts.size ?? (opts.case === 'bigfile' ? 4 * 1024 ** 3 : 2 * 1024 ** 3);

  const madeWorkDir = opts.dir === undefined;
  const workDir = path.resolve(opts.dir ?? mkdtempSync(path.join(os.tmpdir(), 'cairn-bench-')));
  mkdirSync(workDir, { recursive: true });
  if (readdirSync(workDir).length > 0) {
    process.stderr.write(`bench: the work folder ${workDir} is not empty; give an empty or new folder with --dir.\n`);
    process.exit(1);
  }
  let servers: RemoteRepos | undefined;
  const cleanup = async (): Promise<void> => {
    await servers?.stop();
    if (opts.keep) log(`kept the work folder ${workDir}`);
    else if (madeWorkDir) rmSync(workDir, { recursive: true, force: true });
    else for (const n of readdirSync(workDir)) rmSync(path.join(workDir, n), { recursive: true, force: true });
  };
  process.once('SIGINT', () => {
    log('interrupted; cleaning up');
    void cleanup().finally(() => process.exit(130));
  });

  try {
    const loadAtStart = os.loadavg();
    log(`case ${opts.case}, ${opts.case === 'tiny' ? `${opts.files} files` : `size ${formatBytes(size)}`}, seed "${opts.seed}", work folder ${workDir}; load average ${loadAtStart.map((l) => l.toFixed(2)).join(' ')}`);
    const cairn = snapshotCairn(opts.cairn, path.join(workDir, 'cairn-build'));
    const data = path.join(workDir, 'data');
    mkdirSync(data);
    const t0 = performance.now();
    const info = dataSet.generate(data, size, opts.seed);
    const generateSeconds = (performance.now() - t0) / 1000;
    log(`generated ${info.files} files, ${formatBytes(info.bytes)} in ${generateSeconds.toFixed(1)} s`);

    if (opts.case === 'sftp') servers = await sftpRepos(workDir);
    if (opts.case === 'rest') servers = await restRepos();
    const resticCache = path.join(workDir, 'restic-cache');
    const resticRepo = servers?.restic ?? { location: path.join(workDir, 'repo-restic'), localDir: path.join(workDir, 'repo-restic') };
    // Both tools: restic's repository is made first and cairn's copies its chunker polynomial (local case).
    const sameChunker = opts.only === undefined && servers === undefined ? resticRepo.location : undefined;
    const all: Tool[] = [
      cairnTool(servers?.cairn ?? { location: path.join(workDir, 'repo-cairn'), localDir: path.join(workDir, 'repo-cairn') }, cairn, sameChunker),
      resticTool(resticRepo, resticCache),
    ];
    const tools = all.filter((t) => opts.only === undefined || t.name === opts.only);

    for (const t of [...tools].reverse()) {
      const m = await measure(t.init());
      if (m.exitCode !== 0) throw new Error(`${t.name} init failed (exit ${m.exitCode}): ${lastLines(m.stderr || m.stdout)}`);
      log(`${t.name} init: ${m.wallSeconds.toFixed(2)} s`);
    }

    // Warm the page cache for both alike: read the whole data set once (RAM holds data and repositories).
    manifest(data);
    flush();

    const steps: StepResult[] = [];
    const runStep = async (step: StepName, stats: { bytes: number; files: number }, cmdFor: (t: Tool) => Command, after?: (t: Tool, run: ToolRun) => void): Promise<void> => {
      // Alternate who goes first, so neither always gets (or pays for) the state the other leaves.
      const order = steps.length % 2 === 0 ? tools : [...tools].reverse();
      const result: StepResult = { step, order: order.map((t) => t.name), runs: {}, dataBytes: stats.bytes, dataFiles: stats.files };
      for (const t of order) {
        const m = await measure(cmdFor(t));
        flush();
        const run = toRun(t.name, m, stats);
        if (step.endsWith('backup')) {
          const summary = backupSummary(m.stdout);
          if (summary) run.summary = summary;
        }
        after?.(t, run);
        result.runs[t.name] = run;
        log(`${step}, ${t.name}: ${m.wallSeconds.toFixed(2)} s wall, ${(m.userSeconds + m.systemSeconds).toFixed(2)} s CPU, ${formatBytes(m.peakRssBytes)} peak RSS, ${run.ok ? 'ok' : `FAILED: ${run.error ?? run.verdict?.problems[0]}`}`);
      }
      steps.push(result);
    };
    const repoSizes = (): RepoSizes => Object.fromEntries(tools.map((t) => [t.name, treeBytes(t.localDir)]));

    await runStep('first backup', info, (t) => t.backup(data));
    const afterFirst = repoSizes();

    const mutation = dataSet.mutate(data, size, opts.seed);
    log(`mutated: ${mutation.modified} modified, ${mutation.appended} appended, ${mutation.added} added, ${mutation.deleted} deleted, ${formatBytes(mutation.bytesWritten)} written`);
    const source: Manifest = manifest(data); // also re-warms the page cache after the mutation
    flush();
    const now = { bytes: source.bytes, files: [...source.entries.values()].filter((v) => v.startsWith('file ')).length };

    await runStep('incremental backup', now, (t) => t.backup(data));
    const afterIncremental = repoSizes();
    await runStep('no-change backup', now, (t) => t.backup(data));

    const restoreDir = (t: Tool): string => path.join(workDir, `restore-${t.name}`);
    await runStep(
      'restore',
      now,
      (t) => {
        mkdirSync(restoreDir(t));
        return t.restore(restoreDir(t));
      },
      (t, run) => {
        // Both tools restore a snapshot's absolute paths under the target, as restic does.
        const restored = path.join(restoreDir(t), data);
        if (run.ok) {
          run.verdict = existsSync(restored)
            ? compare(source, manifest(restored))
            : { ok: false, problems: [`nothing restored at ${restored}`], problemCount: 1, mtimeDiffers: 0 };
          run.ok = run.verdict.ok;
        }
      },
    );
    // Removed only after both restores: a restore that runs right after the other's tree was deleted
    // pays ext4's cost for reusing freshly freed inodes (seconds of system time, at random).
    for (const t of tools) rmSync(restoreDir(t), { recursive: true, force: true });
    flush();
    await runStep('check --read-data', now, (t) => t.check());
    const final = repoSizes();

    const notes = [
      `cairn ran from a copy of its build (bin/, dist/) taken at the start, so a rebuild of the tree during the run changes nothing.`,
      'ratio = cairn / restic (below 1: cairn is faster or smaller). CPU = user + system time of the whole process tree; peak RSS = the largest process (GNU time).',
      `restic runs with its cache in a fresh RESTIC_CACHE_DIR made for this run and kept between steps, as a user's would be (${formatBytes(treeBytes(resticCache))} at the end, not counted in its repository size); it helps restic's incremental and no-change backups. cairn keeps no local cache. restic backs up with --compression auto (its default).`,
      'Page cache: warm for both. The data set is read once before the first backup and again after the mutation; data and repositories fit in RAM. `sync` runs (untimed) after every measured command, so no one pays for the other\'s writeback. The tool that goes first alternates from step to step.',
      ...(sameChunker ? ["cairn's repository is created with restic's chunker polynomial (`cairn init --copy-chunker-params-from`), so both tools cut the same chunks: repository sizes compare compression and packing."] : []),
      "restore: each tool restores `latest` into an empty folder; 'ok' means the restored tree equals the source (SHA-256 and size of every file, permissions, symlinks, no missing or extra entries). Both restored trees are deleted only after both restores: creating files on ext4 right after a large deletion costs seconds of system time at random, for either tool.",
      ...(servers ? [servers.note] : []),
    ];
    const result: BenchResult = {
      case: opts.case,
      date: new Date().toISOString(),
      size,
      seed: opts.seed,
      workDir,
      machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model ?? 'unknown', memoryBytes: os.totalmem(), loadAtStart, loadAtEnd: os.loadavg() },
      versions: versions(opts.cairn),
      dataset: { ...info, generateSeconds },
      mutation,
      steps,
      repoSizes: { afterFirst, afterIncremental, final },
      notes,
    };

    process.stdout.write(`\n${renderTable(result)}\n${footnotes(result).map((l) => `  ${l}`).join('\n')}\n\n`);
    const out = opts.out ?? path.join(benchDir, 'results', opts.case === 'default' ? 'latest.json' : `latest-${opts.case}.json`);
    mkdirSync(path.dirname(out), { recursive: true });
    writeFileSync(out, JSON.stringify(result, null, 2) + '\n');
    const md = out.replace(/\.json$/, '') + '.md';
    writeFileSync(md, renderMarkdown(result));
    const stamped = path.join(path.dirname(out), `${opts.case}-${result.date.replace(/[:.]/g, '-')}.json`);
    copyFileSync(out, stamped);
    process.stdout.write(`results: ${out} (also ${path.basename(stamped)}), Markdown table: ${md}\n`);
    if (steps.some((s) => Object.values(s.runs).some((r) => !r.ok))) process.exitCode = 1;
  } finally {
    await cleanup();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
