// How a user's shell reaches the test servers, for the cairn CLI and the real restic run as child
// processes: an SSH client setup in a throwaway HOME (~/.ssh/config naming the key and known_hosts,
// as for `ssh`), the AWS_* variables for S3, and restic's own way to the same sftp server
// (`-o sftp.command=ssh ...`, since OpenSSH reads ~/.ssh from the passwd entry, not $HOME).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { promises as fs, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Radosgw } from './radosgw.js';
import type { Sshd } from './sshd.js';
import { type CliResult, cairnArgv, runRestic } from './cli.js';
import { manifest } from './treeGen.js';

/** A repository location as cairn and restic are each told to reach it. */
export interface RemoteTarget {
  /** The location in restic's syntax, given to both tools with -r. */
  location: string;
  /** Extra environment of the cairn CLI (HOME with ~/.ssh, AWS keys, ...). */
  cairnEnv: NodeJS.ProcessEnv;
  /** Extra restic options placed before the command (e.g. `-o sftp.command=...`). */
  resticArgs: string[];
  /** Extra environment of restic. */
  resticEnv: NodeJS.ProcessEnv;
}

/** What goes into the throwaway ~/.ssh of an sftp user. */
export interface SshHomeOptions {
  /** The key ~/.ssh/config names (default: the key the server accepts). */
  identityFile?: string;
  /** Content of the known_hosts file ~/.ssh/config names (default: the server's real host key). */
  knownHosts?: string;
  /** Port written into ~/.ssh/config for the host (default: the server's port). */
  port?: number;
}

/**
 * Creates `home/.ssh/config` (and known_hosts) so that `sftp:user@127.0.0.1:/path` reaches the test
 * sshd exactly as a user's ssh setup would: port, key, known_hosts, no agent. Returns the
 * environment for the CLI (HOME pointing there, SSH_AUTH_SOCK cleared).
 */
export function sshHome(sshd: Sshd, home: string, opts: SshHomeOptions = {}): NodeJS.ProcessEnv {
  const dotSsh = path.join(home, '.ssh');
  mkdirSync(dotSsh, { recursive: true, mode: 0o700 });
  const knownHosts = path.join(dotSsh, 'known_hosts');
  writeFileSync(knownHosts, opts.knownHosts ?? `[127.0.0.1]:${sshd.port} ${sshd.hostKeyLine}\n`, { mode: 0o600 });
  writeFileSync(
    path.join(dotSsh, 'config'),
    [
      'Host 127.0.0.1',
      `  Port ${opts.port ?? sshd.port}`,
      `  User ${sshd.user}`,
      `  IdentityFile ${opts.identityFile ?? sshd.clientKey}`,
      '  IdentitiesOnly yes',
      '  IdentityAgent none',
      `  UserKnownHostsFile ${knownHosts}`,
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  return { HOME: home, SSH_AUTH_SOCK: undefined };
}

/** The ssh command restic runs for sftp: the test key, the test known_hosts, no prompts. */
export function resticSftpCommand(sshd: Sshd): string {
  return ['ssh', ...sshd.sshArgs, `${sshd.user}@127.0.0.1`, '-s', 'sftp'].join(' ');
}

/** A repository folder on the test sshd, reached by cairn through ~/.ssh/config and by restic through sftp.command. */
export function sftpTarget(sshd: Sshd, home: string, repoPath: string): RemoteTarget {
  return {
    location: `sftp:${sshd.user}@127.0.0.1:${repoPath}`,
    cairnEnv: sshHome(sshd, home),
    resticArgs: ['-o', `sftp.command=${resticSftpCommand(sshd)}`],
    resticEnv: {},
  };
}

/** The AWS_* variables both tools read for the radosgw user (a region is set so nothing looks elsewhere). */
export function s3Env(rgw: Radosgw, overrides: { accessKeyId?: string; secretAccessKey?: string } = {}): NodeJS.ProcessEnv {
  return {
    AWS_ACCESS_KEY_ID: overrides.accessKeyId ?? rgw.accessKeyId,
    AWS_SECRET_ACCESS_KEY: overrides.secretAccessKey ?? rgw.secretAccessKey,
    AWS_DEFAULT_REGION: 'us-east-1',
    AWS_SESSION_TOKEN: undefined,
    AWS_PROFILE: undefined,
    AWS_EC2_METADATA_DISABLED: 'true',
  };
}

/** A bucket (and prefix) on radosgw, reached by both tools with the same AWS_* variables. */
export function s3Target(rgw: Radosgw, bucketAndPrefix: string): RemoteTarget {
  return { location: `s3:${rgw.endpoint}/${bucketAndPrefix}`, cairnEnv: s3Env(rgw), resticArgs: [], resticEnv: s3Env(rgw) };
}

/** A repository on a REST server; credentials, if any, are part of the URL for both tools. */
export function restTarget(url: string): RemoteTarget {
  return { location: `rest:${url}`, cairnEnv: {}, resticArgs: [], resticEnv: {} };
}

/** What a CLI run printed and how it exited; `timedOut` when it had to be killed. */
export interface TimedCliResult extends CliResult {
  timedOut: boolean;
}

/** Runs the cairn CLI (the built package, as runCairn) and kills it if it has not exited within `timeoutMs`. */
function runCairnWithin(args: string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<TimedCliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...cairnArgv(), ...args], {
      env: { ...process.env, CAIRN_PASSWORD: undefined, RESTIC_PASSWORD: undefined, CAIRN_REPOSITORY: undefined, RESTIC_REPOSITORY: undefined, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr, timedOut });
    });
  });
}

/** Runs the cairn CLI against the target (`-r` goes right after the command name). */
export function cairnOn(t: RemoteTarget, password: string, command: string, ...args: string[]): Promise<TimedCliResult> {
  return runCairnWithin([command, '-r', t.location, ...args], { ...t.cairnEnv, CAIRN_PASSWORD: password }, 15 * 60_000);
}

/** Like cairnOn, for a command expected to fail at once: it gets 45 s (a few seconds are plenty) before it is killed. */
export function cairnMistake(t: RemoteTarget, password: string, command: string, ...args: string[]): Promise<TimedCliResult> {
  return runCairnWithin([command, '-r', t.location, ...args], { ...t.cairnEnv, CAIRN_PASSWORD: password }, 45_000);
}

/** Runs the real restic against the target. */
export function resticOn(t: RemoteTarget, password: string, ...args: string[]): Promise<CliResult> {
  return runRestic(['-r', t.location, ...t.resticArgs, ...args], { ...t.resticEnv, RESTIC_PASSWORD: password });
}

/** Fails with both output streams when a run did not exit 0. */
export function assertOk(r: CliResult, what: string): void {
  assert.equal(r.code, 0, `${what} exited ${r.code}\n--- stdout\n${r.stdout.slice(-4000)}\n--- stderr\n${r.stderr.slice(-4000)}`);
}

/** The snapshots restic lists in the target: id, tags and paths. */
export async function resticSnapshots(t: RemoteTarget, password: string): Promise<{ id: string; short_id: string; tags?: string[]; paths: string[] }[]> {
  const r = await resticOn(t, password, 'snapshots', '--json');
  assertOk(r, 'restic snapshots');
  return JSON.parse(r.stdout) as { id: string; short_id: string; tags?: string[]; paths: string[] }[];
}

/**
 * The whole exchange the issue asks for, on one remote repository: cairn initialises it, backs up
 * `src` and restores it; the real restic checks every byte and restores cairn's snapshot; restic
 * backs up the same tree and cairn restores restic's snapshot. Each restore must equal the source.
 */
export async function assertCairnAndResticShare(t: RemoteTarget, src: string, scratch: string, password: string): Promise<void> {
  const want = await manifest(src);
  assertOk(await cairnOn(t, password, 'init'), 'cairn init');
  assertOk(await cairnOn(t, password, 'backup', '--tag', 'by-cairn', src), 'cairn backup');

  const cairnOwn = path.join(scratch, 'cairn-restores-cairn');
  assertOk(await cairnOn(t, password, 'restore', 'latest', '--target', cairnOwn), 'cairn restore');
  assert.deepEqual(await manifest(path.join(cairnOwn, src)), want, 'cairn restores its own backup');

  assertOk(await resticOn(t, password, 'check', '--read-data'), 'restic check --read-data');
  const [byCairn] = await resticSnapshots(t, password);
  assert.ok(byCairn, 'restic lists the snapshot cairn made');
  assert.deepEqual(byCairn.tags, ['by-cairn']);
  const resticReads = path.join(scratch, 'restic-restores-cairn');
  assertOk(await resticOn(t, password, 'restore', byCairn.id, '--target', resticReads), 'restic restore');
  assert.deepEqual(await manifest(path.join(resticReads, src)), want, 'restic restores what cairn wrote');

  assertOk(await resticOn(t, password, 'backup', '--tag', 'by-restic', src), 'restic backup');
  const byRestic = (await resticSnapshots(t, password)).find((s) => s.tags?.includes('by-restic'));
  assert.ok(byRestic, 'restic made its snapshot');
  const cairnReads = path.join(scratch, 'cairn-restores-restic');
  assertOk(await cairnOn(t, password, 'restore', byRestic.id, '--target', cairnReads), 'cairn restore of restic\'s snapshot');
  assert.deepEqual(await manifest(path.join(cairnReads, src)), want, 'cairn restores what restic wrote');
}

/** Whether a folder (searched recursively) holds a file with a storage-id name (a finished upload). */
async function hasStoredFile(dir: string): Promise<boolean> {
  const names = await fs.readdir(dir, { recursive: true }).catch(() => [] as string[]);
  return names.some((n) => /(^|\/)[0-9a-f]{64}$/.test(n));
}

/**
 * Starts `cairn backup SRC` on the target, calls `kill` (stop the server) as soon as the first pack
 * shows up in `packDir` on the server's disk, and waits for the backup to end.
 */
export async function backupKilledMidway(t: RemoteTarget, password: string, src: string, packDir: string, kill: () => Promise<void>): Promise<CliResult> {
  const child = spawn(process.execPath, [...cairnArgv(), 'backup', '-r', t.location, src], {
    env: { ...process.env, CAIRN_REPOSITORY: undefined, RESTIC_REPOSITORY: undefined, RESTIC_PASSWORD: undefined, ...t.cairnEnv, CAIRN_PASSWORD: password },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number>((resolve) => child.on('close', (code) => resolve(code ?? -1)));
  let done = false;
  void exited.then(() => (done = true));
  const deadline = Date.now() + 120_000;
  while (!done && !(await hasStoredFile(packDir))) {
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`no pack appeared in ${packDir} within 120 s`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.ok(!done, `the backup ended before the server could be killed:\n${stderr}`);
  await kill();
  const code = await exited;
  return { code, stdout, stderr };
}

/**
 * A user mistake as the CLI must report it: the exit code, exactly one line saying what happened
 * and one remedy line on stderr (no retry notices, no stack trace).
 */
export function assertOneLineAndRemedy(r: TimedCliResult, exitCode: number, what: RegExp, remedy: RegExp): void {
  const lines = r.stderr.split('\n').filter((l) => l.trim() !== '');
  assert.ok(!r.timedOut, `cairn did not exit within 45 s; it had printed:\n${r.stderr.slice(-3000)}`);
  assert.equal(r.code, exitCode, `exit code (stderr:\n${r.stderr.slice(-3000)})`);
  assert.equal(lines.length, 2, `one line and a remedy, got:\n${r.stderr.slice(-3000)}`);
  assert.match(lines[0]!, /^cairn: /);
  assert.match(lines[0]!, what);
  assert.match(lines[1]!, /^ {2}remedy: /);
  assert.match(lines[1]!, remedy);
}
