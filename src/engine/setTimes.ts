// Nanosecond-exact atime/mtime. Node's fs.utimes takes seconds as a double
// and libuv truncates to microseconds, so most nanosecond times (and many
// microsecond ones: a double near 1.7e9 s has a ~0.24 µs step) change on the
// way. We use lutimes when the value survives that conversion exactly, and
// otherwise a batched exact setter: one `perl` process (perl-base is
// Essential on Debian) calling utimensat(2) through syscall() for every
// path, or `touch -h -d @SEC.NANOS` (one process per distinct time) where
// perl or the syscall number is unknown.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { promises as fs } from 'node:fs';
import { describeError } from '../errors.js';

/** A path for fs calls: a string, or raw bytes for names that are not valid UTF-8. */
export type FsPath = string | Buffer;

/** One path and the times to give it (epoch nanoseconds); symlinks are not followed. */
export interface TimesToSet {
  path: FsPath;
  atimeNs: bigint;
  mtimeNs: bigint;
}

/** A path whose times could not be set. */
export interface SetTimesFailure {
  path: FsPath;
  message: string;
}

/** How exact times are written when lutimes cannot: 'auto' picks perl when the syscall number is known, else touch. */
export type ExactTimeMethod = 'auto' | 'perl' | 'touch';

const NS = 1_000_000_000n;

/** utimensat's syscall number per architecture (x86_64 and the generic table used by arm64/riscv64). */
const utimensatSyscall: Partial<Record<string, number>> = { x64: 280, arm64: 88, riscv64: 88, loong64: 88 };

function splitNs(ns: bigint): [bigint, bigint] {
  let sec = ns / NS;
  let nsec = ns % NS;
  if (nsec < 0n) {
    sec -= 1n;
    nsec += NS;
  }
  return [sec, nsec];
}

const f64 = new Float64Array(1);
const u64 = new BigUint64Array(f64.buffer);

function nextUp(x: number): number {
  f64[0] = x;
  u64[0] = u64[0]! + 1n;
  return f64[0];
}

/** What libuv makes of a double (uv__fs_to_timespec): seconds truncated, nanoseconds truncated to whole microseconds. */
function libuvTimespec(d: number): [number, number] {
  const sec = Math.trunc(d);
  let nsec = Math.trunc((d - sec) * 1e9);
  nsec -= nsec % 1000;
  return [sec, nsec];
}

/**
 * The number to pass to fs.lutimes so that the file gets exactly `ns`, or
 * undefined when no double does (sub-microsecond part, negative times which
 * Node replaces by "now", or beyond double precision).
 */
export function exactUtimesValue(ns: bigint): number | undefined {
  if (ns < 0n) return undefined;
  const [sec, nsec] = splitNs(ns);
  if (nsec % 1000n !== 0n || sec > 2n ** 52n) return undefined;
  const want: [number, number] = [Number(sec), Number(nsec)];
  let d = Number(sec) + Number(nsec) / 1e9;
  // The nearest double may fall just below the microsecond; the next one up truncates right.
  for (let i = 0; i < 3; i++, d = nextUp(d)) {
    const [s, n] = libuvTimespec(d);
    if (s === want[0] && n === want[1]) return d;
  }
  return undefined;
}

/**
 * Sets times exactly for many paths: lutimes right away where that is exact;
 * the rest go to one perl process as they come (it works while the caller
 * does other things), or are queued for `touch` when perl cannot be used.
 * `flush()` waits for all of it.
 */
export class ExactTimeSetter {
  private readonly queue: TimesToSet[] = [];
  private readonly method: ExactTimeMethod;
  private perl: PerlTimes | undefined;

  constructor(method: ExactTimeMethod = 'auto') {
    this.method = method;
  }

  /** Sets (or queues) the times of one path. Throws the lutimes error for the caller to report. */
  async set(item: TimesToSet): Promise<void> {
    const a = exactUtimesValue(item.atimeNs);
    const m = exactUtimesValue(item.mtimeNs);
    if (a !== undefined && m !== undefined) {
      await fs.lutimes(item.path, a, m);
      return;
    }
    this.queue.push(item);
    const sysno = utimensatSyscall[process.arch];
    if (this.method === 'touch' || sysno === undefined) return;
    this.perl ??= new PerlTimes(sysno);
    this.perl.send(item);
  }

  /** Number of paths waiting for the exact setter. */
  get pending(): number {
    return this.queue.length;
  }

  /** Writes every queued time; returns the paths that failed. */
  async flush(): Promise<SetTimesFailure[]> {
    const items = this.queue.splice(0);
    const perl = this.perl;
    this.perl = undefined;
    if (items.length === 0) return [];
    if (this.method === 'perl' && utimensatSyscall[process.arch] === undefined) throw new Error(`utimensat syscall number unknown on ${process.arch}`);
    if (perl) {
      try {
        return await perl.finish(items);
      } catch (err) {
        if (this.method === 'perl') throw err;
        // perl missing or unusable: touch sets them all
      }
    }
    return setWithTouch(items);
  }
}

/** Sets atime/mtime of every item exactly (no lutimes shortcut); returns the failures. */
export async function setTimesExact(items: readonly TimesToSet[], method: ExactTimeMethod = 'auto'): Promise<SetTimesFailure[]> {
  const sysno = utimensatSyscall[process.arch];
  if (method === 'perl' || (method === 'auto' && sysno !== undefined)) {
    if (sysno === undefined) throw new Error(`utimensat syscall number unknown on ${process.arch}`);
    try {
      return await setWithPerl(items, sysno);
    } catch (err) {
      if (method === 'perl') throw err;
      // perl missing or unusable: fall back to touch.
    }
  }
  return setWithTouch(items);
}

const perlScript = `
use strict; use warnings;
my $sys = 0 + shift @ARGV;
$| = 1;
while (my $line = <STDIN>) {
  chomp $line;
  my ($as, $an, $ms, $mn, $hex) = split / /, $line;
  my $path = pack('H*', $hex);
  my $ts = pack('q q q q', $as, $an, $ms, $mn);
  my $r = syscall($sys, -100, $path, $ts, 0x100);
  print $r == 0 ? "ok\\n" : "err $!\\n";
}
`;

function toBuffer(p: FsPath): Buffer {
  return typeof p === 'string' ? Buffer.from(p, 'utf8') : p;
}

/** One line of the perl protocol: "asec anano msec mnano hexpath". */
function perlLine(it: TimesToSet): string {
  const [as, an] = splitNs(it.atimeNs);
  const [ms, mn] = splitNs(it.mtimeNs);
  return `${as} ${an} ${ms} ${mn} ${toBuffer(it.path).toString('hex')}\n`;
}

/**
 * One perl process that reads "asec anano msec mnano hexpath" lines and
 * answers "ok" or "err <reason>" per line, fed as items come in.
 */
class PerlTimes {
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly done: Promise<{ code: number | null; out: string; err: string; spawnError?: Error }>;

  constructor(sysno: number) {
    this.child = spawn('perl', ['-e', perlScript, String(sysno)], { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    this.child.stdout.on('data', (d: Buffer) => out.push(d));
    this.child.stderr.on('data', (d: Buffer) => err.push(d));
    this.child.stdin.on('error', () => undefined);
    this.done = new Promise((resolve) => {
      this.child.on('error', (e) => resolve({ code: null, out: '', err: '', spawnError: e }));
      this.child.on('close', (code) => resolve({ code, out: Buffer.concat(out).toString('utf8'), err: Buffer.concat(err).toString('utf8').trim() }));
    });
    this.ref(false); // until finish() waits for it, it must not keep the process alive (its input ends when we do)
  }

  private ref(on: boolean): void {
    for (const h of [this.child, this.child.stdin, this.child.stdout, this.child.stderr] as { ref?: () => void; unref?: () => void }[]) {
      if (on) h.ref?.();
      else h.unref?.();
    }
  }

  /** Lines not yet written: sent in batches, one pipe write per few hundred paths. */
  private batch: string[] = [];

  send(item: TimesToSet): void {
    this.batch.push(perlLine(item));
    if (this.batch.length >= 256) this.writeBatch();
  }

  private writeBatch(): void {
    if (this.batch.length === 0) return;
    this.child.stdin.write(this.batch.join(''));
    this.batch = [];
  }

  /** Ends the input and maps the answers to `items` (all items sent, in order). */
  async finish(items: readonly TimesToSet[]): Promise<SetTimesFailure[]> {
    this.ref(true);
    this.writeBatch();
    this.child.stdin.end();
    const r = await this.done;
    if (r.spawnError) throw r.spawnError;
    const lines = r.out.split('\n');
    if (r.code !== 0 || lines.length < items.length) throw new Error(`perl exited with ${r.code}: ${r.err}`);
    const failures: SetTimesFailure[] = [];
    items.forEach((it, i) => {
      const l = lines[i]!;
      if (l !== 'ok') failures.push({ path: it.path, message: `cannot set times: ${l.replace(/^err /, '')}` });
    });
    return failures;
  }
}

/** Sets the times of all items through one perl process. */
function setWithPerl(items: readonly TimesToSet[], sysno: number): Promise<SetTimesFailure[]> {
  const perl = new PerlTimes(sysno);
  for (const it of items) perl.send(it);
  return perl.finish(items);
}

function touchTime(ns: bigint): string {
  const neg = ns < 0n;
  const abs = neg ? -ns : ns;
  return `@${neg ? '-' : ''}${abs / NS}.${(abs % NS).toString().padStart(9, '0')}`;
}

function run(cmd: string, args: string[]): Promise<string | undefined> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    const err: Buffer[] = [];
    child.stderr.on('data', (d: Buffer) => err.push(d));
    child.on('error', (e) => resolve(describeError(e)));
    child.on('close', (code) => resolve(code === 0 ? undefined : Buffer.concat(err).toString('utf8').trim() || `${cmd} exited with ${code}`));
  });
}

/** GNU touch: one call per distinct time (atime and mtime apart when they differ), many paths per call. */
async function setWithTouch(items: readonly TimesToSet[]): Promise<SetTimesFailure[]> {
  const failures: SetTimesFailure[] = [];
  const groups = new Map<string, { flag: string[]; time: string; items: TimesToSet[] }>();
  const add = (flag: string[], ns: bigint, it: TimesToSet): void => {
    const key = flag.join('') + touchTime(ns);
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { flag, time: touchTime(ns), items: [] }));
    g.items.push(it);
  };
  for (const it of items) {
    if (typeof it.path !== 'string') {
      failures.push({ path: it.path, message: 'cannot set exact times: the name is not valid UTF-8 and perl is not available' });
      continue;
    }
    if (it.atimeNs === it.mtimeNs) add([], it.mtimeNs, it);
    else {
      add(['-a'], it.atimeNs, it);
      add(['-m'], it.mtimeNs, it);
    }
  }
  for (const g of groups.values()) {
    for (let i = 0; i < g.items.length; i += 500) {
      const batch = g.items.slice(i, i + 500);
      const error = await run('touch', ['-h', '-c', ...g.flag, '-d', g.time, '--', ...batch.map((b) => b.path as string)]);
      if (error) for (const b of batch) failures.push({ path: b.path, message: `cannot set times: ${error}` });
    }
  }
  return failures;
}
