// A real S3 server for tests: Ceph radosgw on a throwaway one-node memstore cluster on 127.0.0.1
// (started by radosgw.sh next to this file). One instance per test file: start it in `before`,
// stop it in `after`. It also stops when this process exits or dies, so no daemon outlives a run.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const script = path.join(path.dirname(fileURLToPath(import.meta.url)), 'radosgw.sh');

/** A running radosgw: its S3 endpoint, the keys of its one user, and how to stop it. */
export interface Radosgw {
  /** e.g. "http://127.0.0.1:41235" (path-style; virtual-host style works with host "localhost"). */
  endpoint: string;
  port: number;
  accessKeyId: string;
  secretAccessKey: string;
  /** Seconds from spawn until S3 answered and the user existed. */
  startupSeconds: number;
  /** Stops every daemon and removes the data directory; safe to call twice. */
  stop(): Promise<void>;
}

/** Each running script and its data directory. */
const running = new Map<ChildProcess, string>();
let exitHookInstalled = false;

/** Kills what is still running when the test process exits without calling stop(). */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const [child, dir] of running) {
      killGroup(child, 'SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
}

/** A TCP port on 127.0.0.1 that nothing listens on right now. */
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

async function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/** A run of `count` consecutive free ports (the OSD binds several within a range). */
async function freePortRange(count: number): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20000 + Math.floor(Math.random() * 30000);
    let ok = true;
    for (let p = base; p < base + count && ok; p++) ok = await portFree(p);
    if (ok) return base;
  }
  throw new Error('no free port range on 127.0.0.1');
}

function logTail(dir: string): string {
  const out: string[] = [];
  try {
    for (const name of readdirSync(path.join(dir, 'log'))) {
      const text = readFileSync(path.join(dir, 'log', name), 'utf8');
      out.push(`--- ${name}\n${text.split('\n').slice(-15).join('\n')}`);
    }
  } catch {
    // no logs yet
  }
  return out.join('\n');
}

/** Starts a real radosgw on free 127.0.0.1 ports in a new temp dir (about 15 s on this machine). */
export async function startRadosgw(opts: { timeoutMs?: number } = {}): Promise<Radosgw> {
  installExitHook();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cairn-rgw-'));
  const monPort = await freePort();
  let rgwPort = await freePort();
  while (rgwPort === monPort) rgwPort = await freePort();
  const osdBase = await freePortRange(8);
  const accessKeyId = `AK${randomBytes(8).toString('hex').toUpperCase()}`;
  const secretAccessKey = randomBytes(20).toString('base64url');
  const started = performance.now();
  // Own process group, so the exit hook can kill the script and every daemon at once.
  const child = spawn('bash', [script, dir, String(monPort), String(rgwPort), String(osdBase), String(osdBase + 7), accessKeyId, secretAccessKey], {
    detached: true,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  running.set(child, dir);
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      // Closing stdin tells the script to stop its daemons in order; force it if that hangs.
      child.stdin!.end();
      const timer = setTimeout(() => killGroup(child, 'SIGKILL'), 20_000);
      if (child.exitCode === null && child.signalCode === null) await exited;
      clearTimeout(timer);
      killGroup(child, 'SIGKILL'); // anything that ignored the script
      running.delete(child);
      rmSync(dir, { recursive: true, force: true });
    })();
    return stopping;
  };

  try {
    await new Promise<void>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`radosgw did not start within ${(opts.timeoutMs ?? 120_000) / 1000} s`)), opts.timeoutMs ?? 120_000);
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('READY')) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`radosgw.sh exited with ${code}: ${stderr.trim()}`));
      });
    });
  } catch (err) {
    const logs = logTail(dir);
    await stop();
    throw new Error(`${(err as Error).message}\n${logs}`);
  }
  const startupSeconds = (performance.now() - started) / 1000;
  // Don't let a forgotten stop() keep the test process alive; the exit hook then kills the daemons.
  child.unref();
  for (const stream of [child.stdin, child.stdout, child.stderr]) (stream as unknown as { unref?: () => void } | null)?.unref?.();
  return { endpoint: `http://127.0.0.1:${rgwPort}`, port: rgwPort, accessKeyId, secretAccessKey, startupSeconds, stop };
}
