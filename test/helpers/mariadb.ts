// Starts a throwaway MariaDB server for tests (recipe: /work/shared/real-servers.md):
// mariadb-install-db into a temp dir, mariadbd on a unix socket in that dir and on
// 127.0.0.1:<free port> with --skip-name-resolve. root logs in over the socket (unix
// socket auth, the tests run as root); user "bk" with password BK_PASSWORD may log in
// over TCP. Always stopped: call stop() in an after() hook; a process exit hook kills
// it too if a test run dies first.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chownSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from './postgres.js';

/** Password of the TCP user "bk". */
export const BK_PASSWORD = 'bk-test-pw';

/** A running throwaway MariaDB server. */
export interface TestMariadb {
  socket: string;
  port: number;
  /** Runs SQL as root over the socket; returns tab-separated rows without column names. */
  query(sql: string, database?: string): string;
  /** Stops the server and deletes its files. */
  stop(): Promise<void>;
}

const children = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});

function mysqlIds(): { uid: number; gid: number } {
  const r = spawnSync('id', ['-u', 'mysql'], { encoding: 'utf8' });
  const g = spawnSync('id', ['-g', 'mysql'], { encoding: 'utf8' });
  return { uid: Number(r.stdout.trim()), gid: Number(g.stdout.trim()) };
}

/** Starts a MariaDB server; resolves when it answers a ping. */
export async function startMariadb(): Promise<TestMariadb> {
  const dir = mkdtempSync(path.join(tmpdir(), 'cairn-my-'));
  const { uid, gid } = mysqlIds();
  chownSync(dir, uid, gid);
  const data = path.join(dir, 'data');
  const socket = path.join(dir, 'mysql.sock');
  const port = await freePort();
  const install = spawnSync(
    'mariadb-install-db',
    ['--user=mysql', `--datadir=${data}`, '--auth-root-authentication-method=socket', '--skip-test-db', '--skip-name-resolve'],
    { encoding: 'utf8' },
  );
  if (install.status !== 0) throw new Error(`mariadb-install-db failed: ${install.stderr}`);
  const child = spawn(
    '/usr/sbin/mariadbd',
    [
      '--no-defaults', '--user=mysql', `--datadir=${data}`, `--socket=${socket}`, `--pid-file=${path.join(dir, 'mysqld.pid')}`,
      '--bind-address=127.0.0.1', `--port=${port}`, `--log-error=${path.join(dir, 'err.log')}`, '--innodb-buffer-pool-size=32M',
      '--skip-log-bin', '--skip-name-resolve', '--innodb-flush-log-at-trx-commit=0',
    ],
    { stdio: 'ignore' },
  );
  children.add(child);
  const exited = new Promise<void>((resolve) => child.on('close', () => resolve()));
  const query = (sql: string, database?: string): string => {
    const args = [`--socket=${socket}`, '-uroot', '--batch', '--skip-column-names'];
    if (database) args.push(`--database=${database}`);
    const r = spawnSync('mariadb', args, { input: sql, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`mariadb failed: ${r.stderr}`);
    return r.stdout.trim();
  };
  for (let i = 0; ; i++) {
    const ping = spawnSync('mariadb-admin', [`--socket=${socket}`, '-uroot', 'ping'], { stdio: 'ignore' });
    if (ping.status === 0) break;
    if (child.exitCode !== null || i > 600) {
      child.kill('SIGKILL');
      throw new Error(`mariadbd did not start; see ${path.join(dir, 'err.log')}`);
    }
    await sleep(50);
  }
  query(`CREATE USER 'bk'@'%' IDENTIFIED BY '${BK_PASSWORD}'; GRANT ALL ON *.* TO 'bk'@'%';`);
  let stopped = false;
  return {
    socket,
    port,
    query,
    async stop() {
      if (stopped) return;
      stopped = true;
      spawnSync('mariadb-admin', [`--socket=${socket}`, '-uroot', 'shutdown'], { stdio: 'ignore' });
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
      children.delete(child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
