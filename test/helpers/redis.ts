// Starts a throwaway Redis server for tests (recipe: /work/shared/real-servers.md):
// a config file in a temp dir, unix socket only (port 0), no automatic saves, no AOF,
// a password, daemonized with a pid file, so that the same `redis-server <conf>`
// works as a source's start command and `redis-cli ... SHUTDOWN NOSAVE` as its stop
// command. Always stopped: call stop() in an after() hook; a process exit hook kills
// it too if a test run dies first.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** The password every test server requires. */
export const REDIS_PASSWORD = 'redis-test-pw';

/** A throwaway Redis server. */
export interface TestRedis {
  /** Directory holding the config, socket, log and the RDB (`dir`). */
  dir: string;
  socket: string;
  /** Starts the server (again) from its config: `redis-server <conf>`. */
  startCommand: string[];
  /** Stops the server without saving. */
  stopCommand: string[];
  /** Runs one command through redis-cli (raw output, trailing newline removed). */
  cli(...args: string[]): string;
  /** Resolves when the server answers PING and has finished loading. */
  ready(): Promise<void>;
  /** Stops the server and deletes its files. */
  stop(): Promise<void>;
}

const pidFiles = new Set<string>();
process.on('exit', () => {
  for (const f of pidFiles) {
    try {
      process.kill(Number(readFileSync(f, 'utf8').trim()), 'SIGKILL');
    } catch {
      // already gone
    }
  }
});

/** Starts a Redis server whose data directory is `dataDir` (default: a fresh temp dir). */
export async function startRedis(dataDir?: string): Promise<TestRedis> {
  const dir = mkdtempSync(path.join(tmpdir(), 'cairn-redis-'));
  const data = dataDir ?? path.join(dir, 'data');
  mkdirSync(data, { recursive: true });
  const socket = path.join(dir, 'redis.sock');
  const pidFile = path.join(dir, 'redis.pid');
  const conf = path.join(dir, 'redis.conf');
  writeFileSync(
    conf,
    [
      'port 0', `unixsocket ${socket}`, 'unixsocketperm 700', `dir ${data}`, 'dbfilename dump.rdb', 'save ""', 'appendonly no',
      'daemonize yes', `pidfile ${pidFile}`, `logfile ${path.join(dir, 'redis.log')}`, `requirepass ${REDIS_PASSWORD}`,
      // The RDB for `redis-cli --rdb` is sent like a diskless replica sync, which by default waits 5 s for more replicas.
      'repl-diskless-sync-delay 0',
    ].join('\n') + '\n',
  );
  const env = { ...process.env, REDISCLI_AUTH: REDIS_PASSWORD };
  const stopCommand = ['redis-cli', '-s', socket, '--no-auth-warning', '-a', REDIS_PASSWORD, 'SHUTDOWN', 'NOSAVE'];
  const cli = (...args: string[]): string => {
    const r = spawnSync('redis-cli', ['-s', socket, '-e', ...args], { env, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`redis-cli ${args.join(' ')} failed: ${r.stderr}${r.stdout}`);
    return r.stdout.replace(/\n$/, '');
  };
  const ready = async (): Promise<void> => {
    for (let i = 0; ; i++) {
      const r = spawnSync('redis-cli', ['-s', socket, '-e', 'INFO', 'persistence'], { env, encoding: 'utf8' });
      if (r.status === 0 && /^loading:0/m.test(r.stdout)) return;
      if (i > 300) throw new Error(`redis did not start; see ${path.join(dir, 'redis.log')}`);
      await sleep(30);
    }
  };
  const start = spawnSync('redis-server', [conf], { encoding: 'utf8' });
  if (start.status !== 0) throw new Error(`redis-server failed: ${start.stderr}`);
  pidFiles.add(pidFile);
  await ready();
  let stopped = false;
  return {
    dir: data,
    socket,
    startCommand: ['redis-server', conf],
    stopCommand,
    cli,
    ready,
    async stop() {
      if (stopped) return;
      stopped = true;
      spawnSync(stopCommand[0]!, stopCommand.slice(1), { stdio: 'ignore' });
      for (let i = 0; i < 100; i++) {
        let pid: number;
        try {
          pid = Number(readFileSync(pidFile, 'utf8').trim());
          process.kill(pid, 0);
        } catch {
          break;
        }
        if (i === 99) process.kill(pid, 'SIGKILL');
        await sleep(30);
      }
      pidFiles.delete(pidFile);
      rmSync(dir, { recursive: true, force: true });
      if (dataDir === undefined) rmSync(data, { recursive: true, force: true });
    },
  };
}
