// Starts a throwaway PostgreSQL 15 server for tests (recipe: /work/shared/real-servers.md):
// initdb into a temp dir as the postgres user, listening on a unix socket in that dir
// and on 127.0.0.1:<free port>. Local (socket) logins are trusted; TCP logins need a
// password, so tests can exercise a wrong password. Always stopped: call stop() in an
// after() hook; a process exit hook stops it too if a test run dies first.
import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createServer } from 'node:net';

/** Where the PostgreSQL server programs are (pg_ctl, initdb). */
export const PG_BIN = '/usr/lib/postgresql/15/bin';
/** The superuser's password for TCP logins. */
export const PG_PASSWORD = 'cairn-test-pw';

/** A running throwaway PostgreSQL server. */
export interface TestPostgres {
  /** The directory holding the unix socket (use as host). */
  socketDir: string;
  port: number;
  user: string;
  /** Runs SQL through psql (socket, trusted) and returns unaligned, tab-separated rows. */
  query(sql: string, database?: string): string;
  /** Stops the server and deletes its files. Safe to call twice. */
  stop(): void;
}

const running = new Set<TestPostgres>();
process.on('exit', () => {
  for (const s of running) s.stop();
});

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

function pgUid(): { uid: number; gid: number } {
  const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
  return { uid, gid };
}

/** Starts a PostgreSQL server; resolves when it accepts connections. */
export async function startPostgres(): Promise<TestPostgres> {
  const dir = mkdtempSync(path.join(tmpdir(), 'cairn-pg-'));
  const { uid, gid } = pgUid();
  chownSync(dir, uid, gid);
  const data = path.join(dir, 'data');
  const port = await freePort();
  const asPostgres = (args: string[]): void => {
    const r = spawnSync('runuser', ['-u', 'postgres', '--', ...args], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${args[0]} failed: ${r.stderr || r.stdout}`);
  };
  const pwFile = path.join(dir, 'pw');
  execFileSync('sh', ['-c', `printf '%s' "$1" > "$2" && chown postgres: "$2"`, 'sh', PG_PASSWORD, pwFile]);
  asPostgres([
    `${PG_BIN}/initdb`, '-D', data, '-U', 'postgres', '--auth-local=trust', '--auth-host=scram-sha-256',
    `--pwfile=${pwFile}`, '-E', 'UTF8', '--locale=C.UTF-8',
  ]);
  asPostgres([
    `${PG_BIN}/pg_ctl`, '-D', data, '-l', path.join(dir, 'log'), '-w', '-o',
    `-c listen_addresses=127.0.0.1 -p ${port} -k ${dir} -c fsync=off -c full_page_writes=off`, 'start',
  ]);
  let stopped = false;
  const server: TestPostgres = {
    socketDir: dir,
    port,
    user: 'postgres',
    query(sql, database = 'postgres') {
      const r = spawnSync('psql', ['-X', '-A', '-t', '-q', '-v', 'ON_ERROR_STOP=1', '-F', '\t', '-h', dir, '-p', String(port), '-U', 'postgres', '-d', database, '-f', '-'], {
        input: sql,
        encoding: 'utf8',
      });
      if (r.status !== 0) throw new Error(`psql failed: ${r.stderr}`);
      return r.stdout.trim();
    },
    stop() {
      if (stopped) return;
      stopped = true;
      running.delete(server);
      spawnSync('runuser', ['-u', 'postgres', '--', `${PG_BIN}/pg_ctl`, '-D', data, '-m', 'immediate', '-w', 'stop'], { stdio: 'ignore' });
      rmSync(dir, { recursive: true, force: true });
    },
  };
  running.add(server);
  return server;
}
