// A real OpenSSH sftp server for tests: /usr/sbin/sshd (Debian's openssh-server) on 127.0.0.1 and a
// free port, with a throwaway host key and one authorized client key, all in a temp dir. It can be
// killed (connections included) and started again on the same port, to test reconnection. It stops
// when this process exits, so no daemon outlives a run.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

/** A running sshd and everything a client needs to log in to it. */
export interface Sshd {
  host: '127.0.0.1';
  port: number;
  /** The login name (the user running the tests). */
  user: string;
  /** Temp dir holding keys, config and logs; repositories can go under `dir/repos`. */
  dir: string;
  /** Private key that the server accepts. */
  clientKey: string;
  /** A known_hosts file listing this server's host key under "[127.0.0.1]:port". */
  knownHostsFile: string;
  /** The host key's public line ("ssh-ed25519 AAAA...") and its SHA256 fingerprint as ssh-keygen prints it. */
  hostKeyLine: string;
  hostKeyFingerprint: string;
  /** `ssh` options (for restic's sftp.command) that log in with clientKey and check knownHostsFile. */
  sshArgs: string[];
  /** SIGKILLs sshd and every connection it serves (a crashed server). */
  kill(): Promise<void>;
  /** Starts sshd again on the same port after kill(). */
  restart(): Promise<void>;
  /** Stops the server and removes the temp dir; safe to call twice. */
  stop(): Promise<void>;
}

const running = new Set<number>();
let hookInstalled = false;

function installExitHook(): void {
  if (hookInstalled) return;
  hookInstalled = true;
  process.on('exit', () => {
    for (const pid of running) killTree(pid, 'SIGKILL');
  });
}

/** Pids of every descendant of `pid` (sshd's per-connection children call setsid, so a process group is not enough). */
function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${name}/stat`, 'utf8');
    } catch {
      continue;
    }
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    const list = children.get(ppid) ?? [];
    list.push(Number(name));
    children.set(ppid, list);
  }
  const out: number[] = [];
  const walk = (p: number): void => {
    for (const c of children.get(p) ?? []) {
      out.push(c);
      walk(c);
    }
  };
  walk(pid);
  return out;
}

function killTree(pid: number, signal: NodeJS.Signals): void {
  for (const p of [pid, ...descendants(pid)]) {
    try {
      process.kill(p, signal);
    } catch {
      // already gone
    }
  }
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

function keygen(file: string): void {
  const r = spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'cairn-test', '-f', file]);
  if (r.status !== 0) throw new Error(`ssh-keygen failed: ${r.stderr.toString()}`);
}

/** SHA256 fingerprint of an OpenSSH public key line, as `ssh-keygen -l` prints it. */
export function fingerprintOf(pubLine: string): string {
  const b64 = pubLine.trim().split(/\s+/)[1] ?? '';
  return `SHA256:${createHash('sha256').update(Buffer.from(b64, 'base64')).digest('base64').replace(/=+$/, '')}`;
}

/** Generates a new ed25519 key pair in `dir` and returns the private key path (for "wrong key" tests). */
export function makeKeyPair(dir: string, name: string): string {
  const file = path.join(dir, name);
  keygen(file);
  return file;
}

/** Starts a throwaway sshd with an sftp subsystem on 127.0.0.1. */
export async function startSshd(): Promise<Sshd> {
  installExitHook();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cairn-sshd-'));
  const port = await freePort();
  const user = os.userInfo().username;
  const hostKey = path.join(dir, 'host_ed25519');
  const clientKey = path.join(dir, 'client_ed25519');
  keygen(hostKey);
  keygen(clientKey);
  writeFileSync(path.join(dir, 'authorized_keys'), readFileSync(`${clientKey}.pub`), { mode: 0o600 });
  const hostKeyLine = readFileSync(`${hostKey}.pub`, 'utf8').trim().split(/\s+/).slice(0, 2).join(' ');
  const knownHostsFile = path.join(dir, 'known_hosts');
  writeFileSync(knownHostsFile, `[127.0.0.1]:${port} ${hostKeyLine}\n`);
  mkdirSync(path.join(dir, 'repos'), { mode: 0o700 });
  const config = path.join(dir, 'sshd_config');
  writeFileSync(
    config,
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${hostKey}`,
      `PidFile ${path.join(dir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${path.join(dir, 'authorized_keys')}`,
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'PubkeyAuthentication yes',
      'PermitRootLogin prohibit-password',
      'UsePAM no',
      // Keys live under /tmp, which StrictModes would reject.
      'StrictModes no',
      'MaxStartups 100',
      'MaxSessions 100',
      'Subsystem sftp internal-sftp',
      '',
    ].join('\n'),
  );
  if (process.getuid?.() === 0) mkdirSync('/run/sshd', { recursive: true });

  let child: ChildProcess | undefined;
  const logFile = path.join(dir, 'sshd.log');
  const start = async (): Promise<void> => {
    const proc = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', config], { stdio: ['ignore', 'ignore', 'pipe'] });
    child = proc;
    if (proc.pid !== undefined) running.add(proc.pid);
    let log = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`sshd did not start within 10 s:\n${log}`)), 10_000);
      proc.stderr!.on('data', (d: Buffer) => {
        log += d.toString();
        writeFileSync(logFile, d, { flag: 'a' });
        if (log.includes('Server listening on')) {
          clearTimeout(timer);
          resolve();
        }
      });
      proc.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`sshd exited with ${code}:\n${log}`));
      });
    });
    proc.stderr!.on('data', (d: Buffer) => writeFileSync(logFile, d, { flag: 'a' }));
  };
  const kill = async (): Promise<void> => {
    const proc = child;
    child = undefined;
    if (proc?.pid === undefined || proc.exitCode !== null) return;
    const exited = new Promise<void>((r) => proc.once('exit', () => r()));
    killTree(proc.pid, 'SIGKILL');
    await exited;
    running.delete(proc.pid);
  };
  await start();
  let stopped = false;
  return {
    host: '127.0.0.1',
    port,
    user,
    dir,
    clientKey,
    knownHostsFile,
    hostKeyLine,
    hostKeyFingerprint: fingerprintOf(hostKeyLine),
    sshArgs: ['-p', String(port), '-i', clientKey, '-o', `UserKnownHostsFile=${knownHostsFile}`, '-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=yes', '-o', 'IdentitiesOnly=yes'],
    kill,
    restart: start,
    async stop() {
      if (stopped) return;
      stopped = true;
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
