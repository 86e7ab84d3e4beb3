// A throwaway rootful podman for tests (recipe: /work/shared/real-servers.md):
// its own storage (--root/--runroot/--tmpdir in a temp dir, vfs driver, file
// locks, so nothing is shared with the machine's podman or other test runs), a
// containers.conf with runc (crun fails on hybrid cgroups here) and lowered
// default ulimits (CAP_SYS_RESOURCE is missing), cgroupfs and file events (no
// systemd), and a busybox image built locally with `podman import` of a
// busybox-static rootfs (no registry is reachable). `startService()` runs
// `podman system service` on a unix socket for the Docker-compatible API.
// Always cleaned up: call stop() in an after() hook; a process exit hook removes
// the containers and kills the service if a test run dies first.
import { spawn, spawnSync, type ChildProcess, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, copyFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { PodmanClientOptions } from '../../src/sources/podman.js';

/** A throwaway podman storage with a local busybox image. */
export interface TestPodman {
  /** The temp dir holding storage, config and sockets. */
  dir: string;
  /** Options that make cairn's PodmanClient use this storage. */
  client: PodmanClientOptions;
  /** The global flags (`--root ...`) for running podman by hand. */
  globalArgs: string[];
  /** Environment for running podman by hand (CONTAINERS_CONF). */
  env: NodeJS.ProcessEnv;
  /** The local busybox image ("localhost/cairn-busybox:test"). */
  image: string;
  /** Runs podman; returns stdout (trailing newline removed); throws with stderr on failure. */
  podman(...args: string[]): string;
  /** Runs podman and returns the whole result, whatever the exit code. */
  podmanResult(...args: string[]): SpawnSyncReturns<string>;
  /** Starts `podman system service` (Docker-compatible API) and returns its socket path. */
  startService(): Promise<string>;
  /** Removes every container, volume and image, stops the service, deletes the temp dir. */
  stop(): Promise<void>;
}

const image = 'localhost/cairn-busybox:test';
const busyboxApplets = ['sh', 'ls', 'cat', 'sleep', 'echo', 'date', 'mkdir', 'rm', 'wc', 'true', 'tail', 'kill'];

const live = new Map<string, () => void>();
process.on('exit', () => {
  for (const cleanup of live.values()) cleanup();
});

/** Creates a fresh podman storage with the busybox image imported. */
export async function startPodman(): Promise<TestPodman> {
  const dir = mkdtempSync(path.join(tmpdir(), 'cairn-podman-'));
  const conf = path.join(dir, 'containers.conf');
  writeFileSync(
    conf,
    [
      '[containers]',
      'default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]',
      '[engine]',
      'runtime = "runc"',
      'cgroup_manager = "cgroupfs"',
      'events_logger = "file"',
      // file locks under --tmpdir instead of the machine-wide /dev/shm/libpod_lock
      'lock_type = "file"',
      'num_locks = 256',
      '',
    ].join('\n'),
  );
  const client: PodmanClientOptions = {
    root: path.join(dir, 'root'),
    runroot: path.join(dir, 'run'),
    tmpdir: path.join(dir, 'tmp'),
    storageDriver: 'vfs',
    containersConf: conf,
  };
  const globalArgs = ['--root', client.root!, '--runroot', client.runroot!, '--tmpdir', client.tmpdir!, '--storage-driver', 'vfs'];
  const env = { ...process.env, CONTAINERS_CONF: conf };
  const podmanResult = (...args: string[]): SpawnSyncReturns<string> => spawnSync('podman', [...globalArgs, ...args], { env, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  const podman = (...args: string[]): string => {
    const r = podmanResult(...args);
    if (r.status !== 0) throw new Error(`podman ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
    return r.stdout.replace(/\n$/, '');
  };
  let service: ChildProcess | undefined;
  const cleanupSync = (): void => {
    service?.kill('SIGKILL');
    podmanResult('rm', '--all', '--force', '--time', '0');
    podmanResult('pod', 'rm', '--all', '--force');
    podmanResult('volume', 'rm', '--all', '--force');
    podmanResult('rmi', '--all', '--force');
    rmSync(dir, { recursive: true, force: true });
  };
  live.set(dir, cleanupSync);

  // The image: a rootfs holding only a static busybox and its applet links.
  const rootfs = path.join(dir, 'rootfs');
  mkdirSync(path.join(rootfs, 'bin'), { recursive: true });
  mkdirSync(path.join(rootfs, 'tmp'));
  copyFileSync('/bin/busybox', path.join(rootfs, 'bin', 'busybox'));
  for (const a of busyboxApplets) symlinkSync('busybox', path.join(rootfs, 'bin', a));
  const tar = spawnSync('tar', ['-C', rootfs, '-c', '.'], { maxBuffer: 64 * 1024 * 1024 });
  if (tar.status !== 0) throw new Error(`tar of the busybox rootfs failed: ${String(tar.stderr)}`);
  const imported = spawnSync('podman', [...globalArgs, 'import', '--change', 'CMD ["/bin/sh"]', '-', image], { env, input: tar.stdout, encoding: 'utf8' });
  if (imported.status !== 0) {
    cleanupSync();
    live.delete(dir);
    throw new Error(`podman import of the busybox image failed: ${imported.stderr}`);
  }
  rmSync(rootfs, { recursive: true, force: true });

  let stopped = false;
  return {
    dir,
    client,
    globalArgs,
    env,
    image,
    podman,
    podmanResult,
    async startService() {
      const socket = path.join(dir, 'podman.sock');
      if (service) return socket;
      service = spawn('podman', [...globalArgs, 'system', 'service', '--time=0', `unix://${socket}`], { env, stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      service.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
      for (let i = 0; !existsSync(socket); i++) {
        if (service.exitCode !== null || i > 200) throw new Error(`podman system service did not start: ${stderr}`);
        await sleep(25);
      }
      return socket;
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      if (service && service.exitCode === null) {
        const exited = new Promise((r) => service!.once('exit', r));
        service.kill('SIGTERM');
        await Promise.race([exited, sleep(5000)]);
      }
      cleanupSync();
      // conmon runs `podman container cleanup` (with this storage's flags) after a container exits, which can
      // recreate parts of the directory just deleted: wait for those to finish and delete again.
      for (let i = 0; i < 50; i++) {
        const busy = spawnSync('pgrep', ['-f', dir]).status === 0;
        if (!busy && !existsSync(dir)) break;
        await sleep(100);
        if (!busy) rmSync(dir, { recursive: true, force: true });
      }
      live.delete(dir);
    },
  };
}

/**
 * A shell loop for a test container that appends a line to `file` every
 * 100 ms and exits at once on SIGTERM (busybox sh as PID 1 would ignore it,
 * making every `podman stop` wait for its timeout).
 */
export function writerScript(file: string): string {
  return `trap 'exit 0' TERM; while true; do date >> ${file}; sleep 0.1 & wait $!; done`;
}

/** Reads a file, or "" when it does not exist. */
export function readOrEmpty(file: string): string {
  return existsSync(file) ? readFileSync(file, 'utf8') : '';
}
