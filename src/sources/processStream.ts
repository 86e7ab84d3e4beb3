import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants as fsConstants } from 'node:fs';
import path from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { CairnError, describeError } from '../errors.js';

/** How a child process ended badly: what ran, how it ended, the last lines it wrote to stderr. */
export interface ProcessFailure {
  /** The program that ran (argv[0]). */
  program: string;
  /** Exit code, or null when killed by a signal or never started. */
  exitCode: number | null;
  /** The signal that killed it, if any. */
  signal: NodeJS.Signals | null;
  /** The last lines of stderr joined into one line ("" when it wrote nothing). */
  stderrTail: string;
  /** Set when the program could not be started at all (e.g. ENOENT). */
  spawnError?: Error;
}

/** Turns a failure into the error a user sees; each source names its server and a remedy. */
export type FailureToError = (failure: ProcessFailure) => Error;

/** Options shared by {@link processStdout} and {@link runProcess}. */
export interface ProcessOptions {
  /** Extra environment variables (merged over process.env). */
  env?: Record<string, string | undefined>;
  /** Working directory. */
  cwd?: string;
  /** Builds the error thrown / emitted when the process fails. */
  onFailure?: FailureToError;
}

const STDERR_KEEP_BYTES = 4096;
const STDERR_TAIL_LINES = 4;

/** Keeps only the last few KiB of a stream of stderr text. */
class StderrTail {
  private text = '';
  push(chunk: Buffer | string): void {
    this.text += chunk.toString();
    if (this.text.length > STDERR_KEEP_BYTES * 2) this.text = this.text.slice(-STDERR_KEEP_BYTES);
  }
  /** The last non-empty lines as one line. */
  line(): string {
    const lines = this.text
      .slice(-STDERR_KEEP_BYTES)
      .split(/\r?\n/)
      .map((l) => l.trim())
      .filter((l) => l.length > 0);
    return lines.slice(-STDERR_TAIL_LINES).join(' | ');
  }
}

/** The default error for a failed process: names the program, the exit status and stderr's tail. */
export function defaultFailureError(f: ProcessFailure): CairnError {
  if (f.spawnError) return programNotStartedError(f);
  const how = f.signal ? `was killed by ${f.signal}` : `exited with code ${f.exitCode}`;
  return new CairnError(
    'process-failed',
    `${f.program} ${how}${f.stderrTail ? `: ${f.stderrTail}` : ''}`,
    `run the command by hand to see the whole output`,
  );
}

/** The error for a program that could not be started (not installed, not executable). */
export function programNotStartedError(f: ProcessFailure): CairnError {
  const missing = (f.spawnError as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
  return new CairnError(
    missing ? 'program-not-found' : 'program-not-started',
    missing ? `${f.program} was not found` : `${f.program} could not be started: ${describeError(f.spawnError)}`,
    missing ? `install ${path.basename(f.program)} or set its path in the source's options` : `check that ${f.program} is executable`,
    undefined,
    { cause: f.spawnError },
  );
}

/** Describes a command for messages: the program's base name and how it ended. */
function failureOf(program: string, exitCode: number | null, signal: NodeJS.Signals | null, tail: StderrTail, spawnError?: Error): ProcessFailure {
  return { program, exitCode, signal, stderrTail: tail.line(), spawnError };
}

function startChild(program: string, args: readonly string[], options: ProcessOptions, stdin: 'ignore' | 'pipe'): ChildProcess {
  return spawn(program, [...args], {
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
    stdio: [stdin, 'pipe', 'pipe'],
  });
}

/**
 * Runs `program` and returns its stdout as a stream. The stream ends only
 * after the process exited with code 0; on any other outcome it is destroyed
 * with the error built by `options.onFailure` (stderr's tail included), so a
 * consumer never takes a truncated dump for a complete one. Destroying the
 * returned stream kills the process.
 */
export function processStdout(program: string, args: readonly string[], options: ProcessOptions = {}): Readable {
  const onFailure = options.onFailure ?? defaultFailureError;
  const out = new PassThrough();
  const tail = new StderrTail();
  const child = startChild(program, args, options, 'ignore');
  let finished = false;
  child.stderr?.on('data', (c: Buffer) => tail.push(c));
  // end:false: the stream may end only once the exit code is known to be 0.
  child.stdout?.pipe(out, { end: false });
  child.on('error', (err) => {
    if (finished) return;
    finished = true;
    out.destroy(onFailure(failureOf(program, null, null, tail, err)));
  });
  child.on('close', (code, signal) => {
    if (finished) return;
    finished = true;
    if (code === 0) out.end();
    else out.destroy(onFailure(failureOf(program, code, signal, tail)));
  });
  out.on('close', () => {
    // The consumer gave up (or we are done): make sure the process does not linger.
    if (!finished && child.exitCode === null && child.signalCode === null) {
      finished = true;
      child.kill('SIGTERM');
    }
  });
  return out;
}

/** What {@link runProcess} returns when the process exited with code 0. */
export interface ProcessResult {
  stdout: string;
  stderr: string;
}

/** Options for {@link runProcess}: everything of {@link ProcessOptions} plus stdin. */
export interface RunProcessOptions extends ProcessOptions {
  /** Fed to the process's stdin: a stream (e.g. a stored dump) or text. */
  stdin?: Readable | string;
}

/**
 * Runs `program` to completion and resolves with its output when it exits
 * with code 0; rejects with `options.onFailure`'s error otherwise. When the
 * stdin stream itself fails (e.g. the stored dump cannot be read), the process
 * is killed and that error is what the promise rejects with.
 */
export function runProcess(program: string, args: readonly string[], options: RunProcessOptions = {}): Promise<ProcessResult> {
  const onFailure = options.onFailure ?? defaultFailureError;
  return new Promise<ProcessResult>((resolve, reject) => {
    const tail = new StderrTail();
    const stdoutParts: Buffer[] = [];
    const stderrParts: Buffer[] = [];
    const child = startChild(program, args, options, options.stdin === undefined ? 'ignore' : 'pipe');
    let inputError: Error | undefined;
    let settled = false;
    const settle = (fn: () => void): void => {
      if (settled) return;
      settled = true;
      fn();
    };
    child.stdout?.on('data', (c: Buffer) => stdoutParts.push(c));
    child.stderr?.on('data', (c: Buffer) => {
      stderrParts.push(c);
      tail.push(c);
    });
    if (options.stdin !== undefined && child.stdin) {
      // EPIPE when the process exits early is expected; its exit status tells the story.
      child.stdin.on('error', () => undefined);
      if (typeof options.stdin === 'string') {
        child.stdin.end(options.stdin);
      } else {
        const input = options.stdin;
        input.on('error', (err) => {
          inputError = err;
          child.kill('SIGTERM');
        });
        input.pipe(child.stdin);
      }
    }
    child.on('error', (err) => settle(() => reject(onFailure(failureOf(program, null, null, tail, err)))));
    child.on('close', (code, signal) =>
      settle(() => {
        if (inputError) reject(inputError);
        else if (code === 0) resolve({ stdout: Buffer.concat(stdoutParts).toString(), stderr: Buffer.concat(stderrParts).toString() });
        else reject(onFailure(failureOf(program, code, signal, tail)));
      }),
    );
  });
}

/** Runs a command given as a shell string (through /bin/sh -c) or as an argv array. */
export function commandArgv(command: string | readonly string[]): [string, string[]] {
  if (typeof command === 'string') return ['/bin/sh', ['-c', command]];
  if (command.length === 0) throw new CairnError('empty-command', 'the command is empty', 'give the command to run in the source options');
  return [command[0]!, command.slice(1)];
}

/** The first of `candidates` found on PATH (or given as a path that exists); undefined when none is. */
export function findProgram(candidates: readonly string[]): string | undefined {
  const dirs = (process.env.PATH ?? '').split(path.delimiter).filter(Boolean);
  for (const name of candidates) {
    if (name.includes('/')) {
      if (isExecutable(name)) return name;
      continue;
    }
    for (const dir of dirs) if (isExecutable(path.join(dir, name))) return path.join(dir, name);
  }
  return undefined;
}

/** The first of `candidates` found on PATH; else the first candidate (so its absence is reported when run). */
export function resolveProgram(candidates: readonly string[]): string {
  return findProgram(candidates) ?? candidates[0]!;
}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}
