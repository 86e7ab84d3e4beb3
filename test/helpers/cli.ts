import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** What a CLI run printed and how it exited. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Node arguments that start the cairn CLI: the built package (bin/cairn.js, what
 * users run; `npm test` and scripts/run-tests.mjs build it first), or the
 * TypeScript sources through tsx when CAIRN_TEST_CLI=tsx.
 */
export function cairnArgv(): string[] {
  if (process.env.CAIRN_TEST_CLI === 'tsx') return ['--import', 'tsx', path.join(root, 'src/cli/entry.ts')];
  return [path.join(root, 'bin/cairn.js')];
}

/** Runs the cairn CLI with the given arguments and environment. */
export function runCairn(args: string[], opts: { env?: NodeJS.ProcessEnv; input?: string | Buffer; cwd?: string } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...cairnArgv(), ...args], {
      cwd: opts.cwd ?? root,
      env: { ...process.env, CAIRN_PASSWORD: undefined, RESTIC_PASSWORD: undefined, CAIRN_REPOSITORY: undefined, RESTIC_REPOSITORY: undefined, ...opts.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    if (opts.input !== undefined) child.stdin.end(opts.input);
    else child.stdin.end();
  });
}

/** Runs the real restic with a password and repository; returns its output. */
export function runRestic(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('restic', args, { env: { ...process.env, RESTIC_CACHE_DIR: '/tmp/cairn-test-restic-cache', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}
