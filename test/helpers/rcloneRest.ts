// A real restic REST server for tests: `rclone serve restic` (Debian's rclone 1.60) on 127.0.0.1 and a
// free port, serving a temp dir; optionally with basic auth and TLS (a throwaway self-signed
// certificate made by openssl). It stops when this process exits, so no daemon outlives a run.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

/** A running `rclone serve restic`. */
export interface RcloneRest {
  port: number;
  /** Base URL without credentials, e.g. "http://127.0.0.1:41234/". */
  url: string;
  /** The folder served; repositories are its subfolders ("<url><name>/" is "<dir>/<name>"). */
  dir: string;
  user?: string;
  pass?: string;
  /** With tls: the self-signed certificate (PEM) to trust. */
  caFile?: string;
  /** SIGKILLs the server (a crashed server). */
  kill(): Promise<void>;
  /** Starts it again on the same port after kill(). */
  restart(): Promise<void>;
  /** Stops the server and removes its folder; safe to call twice. */
  stop(): Promise<void>;
}

export interface RcloneRestOptions {
  user?: string;
  pass?: string;
  tls?: boolean;
}

const running = new Set<ChildProcess>();
let hookInstalled = false;

function installExitHook(): void {
  if (hookInstalled) return;
  hookInstalled = true;
  process.on('exit', () => {
    for (const child of running) child.kill('SIGKILL');
  });
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

/** Starts `rclone serve restic` on a fresh temp dir. */
export async function startRcloneRest(opts: RcloneRestOptions = {}): Promise<RcloneRest> {
  installExitHook();
  const home = mkdtempSync(path.join(os.tmpdir(), 'cairn-rclone-'));
  const dir = path.join(home, 'served');
  const port = await freePort();
  const args = [
    'serve', 'restic', '--addr', `127.0.0.1:${port}`,
    '--config', path.join(home, 'rclone.conf'),
    // rclone's listing cache answers HEAD for files already gone (e.g. after a failed upload): tests look at the real state.
    '--cache-objects=false',
  ];
  if (opts.user !== undefined) args.push('--user', opts.user, '--pass', opts.pass ?? '');
  let caFile: string | undefined;
  if (opts.tls) {
    caFile = path.join(home, 'cert.pem');
    const key = path.join(home, 'key.pem');
    const r = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', caFile, '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1']);
    if (r.status !== 0) throw new Error(`openssl failed: ${r.stderr.toString()}`);
    args.push('--cert', caFile, '--key', key);
  }
  args.push(dir);
  const url = `${opts.tls ? 'https' : 'http'}://127.0.0.1:${port}/`;
  // AWS_CA_BUNDLE (set on this machine) breaks rclone's startup for some backends.
  const env: NodeJS.ProcessEnv = { ...process.env, RCLONE_CONFIG: path.join(home, 'rclone.conf') };
  delete env.AWS_CA_BUNDLE;

  let child: ChildProcess | undefined;
  const start = async (): Promise<void> => {
    const proc = spawn('rclone', args, { stdio: ['ignore', 'ignore', 'pipe'], env });
    child = proc;
    running.add(proc);
    let log = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`rclone did not start within 15 s:\n${log}`)), 15_000);
      proc.stderr!.on('data', (d: Buffer) => {
        log += d.toString();
        if (log.includes('Serving restic REST API')) {
          clearTimeout(timer);
          resolve();
        }
      });
      proc.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`rclone exited with ${code}:\n${log}`));
      });
    });
  };
  const kill = async (): Promise<void> => {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise<void>((r) => proc.once('exit', () => r()));
    proc.kill('SIGKILL');
    await exited;
    running.delete(proc);
  };
  await start();
  let stopped = false;
  return {
    port,
    url,
    dir,
    ...(opts.user !== undefined ? { user: opts.user, pass: opts.pass ?? '' } : {}),
    ...(caFile ? { caFile } : {}),
    kill,
    restart: start,
    async stop() {
      if (stopped) return;
      stopped = true;
      await kill();
      rmSync(home, { recursive: true, force: true });
    },
  };
}
