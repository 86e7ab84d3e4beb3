// Runs one command under GNU time (`/usr/bin/time -v`, Debian package "time") and reads back its
// wall time, CPU time (user + system, children included) and peak resident set size.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** A command line with the environment it runs in (added to, or removing with undefined, this process's). */
export interface Command {
  argv: string[];
  env?: Record<string, string | undefined>;
  cwd?: string;
}

/** What one measured run cost and how it ended. */
export interface Measurement {
  wallSeconds: number;
  userSeconds: number;
  systemSeconds: number;
  /** user + system. */
  cpuSeconds: number;
  /** Maximum resident set size in bytes (of the largest process of the tree, as getrusage reports it). */
  peakRssBytes: number;
  exitCode: number;
  /** 1-minute load average when the run started (the machine is shared). */
  loadBefore: number;
  /** The last 64 KiB of stdout and stderr. */
  stdout: string;
  stderr: string;
}

export const timeBinary = '/usr/bin/time';
const keep = 64 * 1024;

/** Seconds from GNU time's "h:mm:ss" or "m:ss.ss". */
export function parseClock(s: string): number {
  return s.trim().split(':').reduce((acc, part) => acc * 60 + Number(part), 0);
}

/** The fields of `/usr/bin/time -v` output that the bench uses. */
export function parseTimeReport(text: string): Pick<Measurement, 'wallSeconds' | 'userSeconds' | 'systemSeconds' | 'peakRssBytes'> & { exitStatus?: number; signal?: number } {
  const field = (label: string): string | undefined => {
    const line = text.split('\n').find((l) => l.trim().startsWith(label));
    return line?.slice(line.lastIndexOf(': ') + 2).trim();
  };
  const wall = field('Elapsed (wall clock) time');
  const user = field('User time (seconds)');
  const sys = field('System time (seconds)');
  const rss = field('Maximum resident set size (kbytes)');
  if (wall === undefined || user === undefined || sys === undefined || rss === undefined) throw new Error(`unexpected output of ${timeBinary} -v:\n${text}`);
  const exit = field('Exit status');
  const sig = /Command terminated by signal (\d+)/.exec(text)?.[1];
  return {
    wallSeconds: parseClock(wall),
    userSeconds: Number(user),
    systemSeconds: Number(sys),
    peakRssBytes: Number(rss) * 1024,
    ...(exit !== undefined ? { exitStatus: Number(exit) } : {}),
    ...(sig !== undefined ? { signal: Number(sig) } : {}),
  };
}

/** Runs `cmd` under `/usr/bin/time -v` and returns what it cost. Never throws for a failing command: see exitCode. */
export async function measure(cmd: Command): Promise<Measurement> {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'cairn-bench-time-'));
  const report = path.join(tmp, 'time.txt');
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const [k, v] of Object.entries(cmd.env ?? {})) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  const loadBefore = os.loadavg()[0]!;
  try {
    const child = spawn(timeBinary, ['-v', '-o', report, ...cmd.argv], { env, cwd: cmd.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout = (stdout + d.toString()).slice(-keep)));
    child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-keep)));
    const code = await new Promise<number>((resolve, reject) => {
      child.once('error', reject);
      child.once('close', (c) => resolve(c ?? 1));
    });
    const t = parseTimeReport(readFileSync(report, 'utf8'));
    return {
      wallSeconds: t.wallSeconds,
      userSeconds: t.userSeconds,
      systemSeconds: t.systemSeconds,
      cpuSeconds: t.userSeconds + t.systemSeconds,
      peakRssBytes: t.peakRssBytes,
      exitCode: t.exitStatus ?? (t.signal !== undefined ? 128 + t.signal : code),
      loadBefore,
      stdout,
      stderr,
    };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
