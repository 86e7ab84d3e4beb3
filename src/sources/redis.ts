import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { CairnError } from '../errors.js';
import { commandArgv, findProgram, processStdout, programNotStartedError, runProcess, type ProcessFailure } from './processStream.js';
import type { Source, SourceItem, SourceMetadata, SourceRestoreOptions, StoredContent } from './source.js';

/** Options of a {@link RedisSource}: one Redis server (all its databases). */
export interface RedisSourceOptions {
  /** The source's name inside its component; default "redis". */
  name?: string;
  /** Unix socket path; when set, host/port are not used. */
  socket?: string;
  /** Host name or IP address; default 127.0.0.1. */
  host?: string;
  /** TCP port; default 6379. */
  port?: number;
  /** ACL user (Redis 6+). */
  user?: string;
  /** Password, already resolved; passed through REDISCLI_AUTH, never on the command line. */
  password?: string;
  /** Path of redis-cli; default: found on PATH. */
  binaries?: { redisCli?: string };
  /** Stops the server (argv, or a string run by /bin/sh), for a restore over the live data, e.g. ["systemctl", "stop", "redis"]. */
  stopCommand?: string | string[];
  /** Starts the server again after a restore over the live data. */
  startCommand?: string | string[];
  /** The server's `dir`, needed when the server is already stopped at restore time (otherwise asked with CONFIG GET). */
  dataDir?: string;
  /** The server's `dbfilename`; default asked with CONFIG GET, else "dump.rdb". */
  dbfilename?: string;
  /** How long to wait for the server to stop or to start, in ms; default 30000. */
  waitMs?: number;
}

/** Stored item name of the RDB snapshot. */
const ITEM = 'dump.rdb';

/**
 * A Redis server, backed up as one consistent RDB snapshot (`dump.rdb`) that
 * the server forks off for `redis-cli --rdb -` (the replication path), streamed
 * straight into the repository (the server's repl-diskless-sync-delay, 5 s by
 * default, is waited once per backup). Redis loads an RDB only at start, so a restore
 * over the live data replaces the RDB file with the server stopped (through
 * the source's stop/start commands) — Redis's documented way. `--to DIR`
 * writes the RDB into that directory instead, for a second server to load.
 */
export class RedisSource implements Source {
  readonly name: string;
  readonly kind = 'redis';
  private readonly options: RedisSourceOptions;

  constructor(options: RedisSourceOptions) {
    this.options = options;
    this.name = options.name ?? 'redis';
  }

  /** "Redis at /run/redis/redis.sock", for messages. */
  private server(): string {
    if (this.options.socket) return `Redis at ${this.options.socket}`;
    return `Redis at ${this.options.host ?? '127.0.0.1'}:${this.options.port ?? 6379}`;
  }

  private cli(): string {
    return this.options.binaries?.redisCli ?? 'redis-cli';
  }

  private connectionArgs(): string[] {
    const args = this.options.socket ? ['-s', this.options.socket] : ['-h', this.options.host ?? '127.0.0.1', '-p', String(this.options.port ?? 6379)];
    if (this.options.user !== undefined) args.push('--user', this.options.user);
    return [...args, '--no-auth-warning'];
  }

  private env(): Record<string, string | undefined> {
    return { REDISCLI_AUTH: this.options.password ?? process.env.REDISCLI_AUTH };
  }

  /** One clear error for a failed redis-cli: what failed, on which server, its stderr's tail, a remedy. */
  private failure(action: string, f: ProcessFailure): CairnError {
    if (f.spawnError) return programNotStartedError(f);
    const detail = f.stderrTail || (f.signal ? `killed by ${f.signal}` : `exit code ${f.exitCode}`);
    const message = `${action} ${this.server()} failed: ${detail}`;
    if (/could not connect|connection refused|no such file or directory|connection reset/i.test(f.stderrTail)) {
      return new CairnError('redis-unreachable', message, `start the server or fix socket/host/port in the source options; check with: redis-cli ${this.connectionArgs().slice(0, -1).join(' ')} ping`);
    }
    if (/NOAUTH|WRONGPASS|invalid password|AUTH failed/i.test(f.stderrTail)) {
      return new CairnError('redis-auth', message, 'check the user and password of this source');
    }
    if (/NOPERM/i.test(f.stderrTail)) {
      return new CairnError('redis-refused', message, "grant this source's ACL user the commands it needs (SYNC, REPLCONF, CONFIG, PING, INFO, FLUSHALL)");
    }
    return new CairnError('redis-failed', message, `run redis-cli ${this.connectionArgs().slice(0, -1).join(' ')} by hand to see the whole output`);
  }

  /** Runs one command through redis-cli; `-e` makes an error reply a failure. */
  private async command(args: string[], action: string): Promise<string> {
    const { stdout } = await runProcess(this.cli(), [...this.connectionArgs(), '-e', ...args], {
      env: this.env(),
      onFailure: (f) => this.failure(action, f),
    });
    return stdout;
  }

  /** True when the server answers PING. */
  private async alive(): Promise<boolean> {
    try {
      return (await this.command(['PING'], 'pinging')).trim() === 'PONG';
    } catch {
      return false;
    }
  }

  /** One stream item: the RDB the server forks off for a replica, streamed while it is sent. */
  async items(): Promise<SourceItem[]> {
    const open = async () =>
      processStdout(this.cli(), [...this.connectionArgs(), '--rdb', '-'], { env: this.env(), onFailure: (f) => this.failure('an RDB snapshot of', f) });
    return [{ type: 'stream', name: ITEM, open, mode: 0o600 }];
  }

  /** CONFIG GET of several parameters, as a map. */
  private async config(names: string[]): Promise<Map<string, string>> {
    const lines = (await this.command(['CONFIG', 'GET', ...names], 'reading the configuration of')).split('\n');
    const out = new Map<string, string>();
    for (let i = 0; i + 1 < lines.length; i += 2) out.set(lines[i]!, lines[i + 1]!);
    return out;
  }

  /** Writes the stored RDB next to `file` and checks its header; returns the temp file's path. */
  private async writeChecked(content: StoredContent, file: string): Promise<string> {
    await mkdir(path.dirname(file), { recursive: true });
    const tmp = `${file}.cairn-restore-${randomBytes(4).toString('hex')}`;
    try {
      await pipeline(await content.openStream(ITEM), createWriteStream(tmp, { mode: 0o600 }));
      const head = Buffer.alloc(9);
      const fh = await open(tmp, 'r');
      try {
        await fh.read(head, 0, 9, 0);
      } finally {
        await fh.close();
      }
      if (!/^REDIS\d{4}$/.test(head.toString('latin1'))) {
        throw new CairnError('redis-restore-corrupt', `the stored ${ITEM} is not a Redis RDB file; ${file} was left as it was`, 'restore from an older snapshot, or run cairn check on the repository');
      }
      const checker = findProgram(['redis-check-rdb']);
      if (checker) {
        await runProcess(checker, [tmp], {
          onFailure: (f) =>
            new CairnError('redis-restore-corrupt', `the stored ${ITEM} fails redis-check-rdb (${f.stderrTail || `exit ${f.exitCode}`}); ${file} was left as it was`, 'restore from an older snapshot'),
        });
      }
      return tmp;
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
  }

  private async waitFor(up: boolean): Promise<void> {
    const deadline = Date.now() + (this.options.waitMs ?? 30_000);
    for (;;) {
      const isUp = await this.alive();
      if (up && isUp) {
        const info = await this.command(['INFO', 'persistence'], 'reading the state of').catch(() => '');
        if (/^loading:0/m.test(info)) return;
      } else if (!up && !isUp) return;
      if (Date.now() > deadline) {
        throw new CairnError(
          up ? 'redis-start-timeout' : 'redis-stop-timeout',
          `${this.server()} did not ${up ? 'come up' : 'stop'} within ${(this.options.waitMs ?? 30_000) / 1000} s after the ${up ? 'start' : 'stop'} command`,
          `check the source's ${up ? 'start' : 'stop'}_command and the server's log`,
        );
      }
      await sleep(100);
    }
  }

  private async runLifecycle(command: string | string[], what: 'stop' | 'start'): Promise<void> {
    const [program, args] = commandArgv(command);
    await runProcess(program, args, {
      onFailure: (f) =>
        new CairnError(`redis-${what}-failed`, `the ${what} command for ${this.server()} failed: ${f.stderrTail || `exit ${f.exitCode}`}`, `check the source's ${what}_command`),
    });
  }

  /**
   * With `options.to`: writes the RDB into that directory (created if needed)
   * and leaves the live server alone. Without: stops the server with the stop
   * command, replaces its RDB file (dir/dbfilename) and starts it with the
   * start command, which loads the restored data. The RDB is written and checked
   * before the server is stopped, so a bad snapshot costs no downtime.
   */
  async restore(content: StoredContent, options: SourceRestoreOptions): Promise<void> {
    const names = await content.names();
    if (!names.includes(ITEM)) {
      throw new CairnError('redis-nothing-stored', `the backup has no ${ITEM} for source "${this.name}" (it holds: ${names.join(', ') || 'nothing'})`, 'pick a snapshot made with this source');
    }
    if (options.to !== undefined) {
      const file = path.join(path.resolve(options.to), this.options.dbfilename ?? ITEM);
      const tmp = await this.writeChecked(content, file);
      await rename(tmp, file);
      return;
    }
    const running = await this.alive();
    let dir = this.options.dataDir;
    let dbfilename = this.options.dbfilename;
    if (running) {
      if (this.options.stopCommand === undefined) {
        throw new CairnError(
          'redis-running',
          `${this.server()} is running: Redis reads its RDB only at start, so restoring over its data needs the server stopped`,
          "set stop_command and start_command for this source (or stop the component first), or restore into a directory with --to",
        );
      }
      const conf = await this.config(['dir', 'dbfilename', 'appendonly']);
      if (conf.get('appendonly') === 'yes') {
        throw new CairnError(
          'redis-aof-enabled',
          `${this.server()} has appendonly on: at start it loads its AOF, not the restored RDB`,
          'turn it off (CONFIG SET appendonly no; CONFIG REWRITE), restore, then turn it back on (CONFIG SET appendonly yes rebuilds the AOF from the data)',
        );
      }
      dir ??= conf.get('dir');
      dbfilename ??= conf.get('dbfilename');
    }
    if (!dir) {
      throw new CairnError('redis-no-data-dir', `${this.server()} is not running and the source has no data_dir: cannot tell where its RDB file lives`, "set data_dir (the server's `dir`) in the source options, or start the server");
    }
    const file = path.join(dir, dbfilename ?? ITEM);
    const tmp = await this.writeChecked(content, file);
    try {
      if (running) {
        await this.runLifecycle(this.options.stopCommand!, 'stop');
        await this.waitFor(false);
      }
      await rename(tmp, file);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
    if (this.options.startCommand !== undefined) {
      await this.runLifecycle(this.options.startCommand, 'start');
      await this.waitFor(true);
    }
  }

  /** Teardown: deletes every key in every database (FLUSHALL). */
  async remove(): Promise<void> {
    await this.command(['FLUSHALL'], 'flushing');
  }

  /** Throws unless the server answers PING with PONG. */
  async health(): Promise<void> {
    const out = (await this.command(['PING'], 'a health check of')).trim();
    if (out !== 'PONG') throw new CairnError('redis-unhealthy', `${this.server()} answered "${out}" to PING`, 'check the server log');
  }

  /** Server version, number of keys (database 0) and memory in use. */
  async metadata(): Promise<SourceMetadata> {
    const info = await this.command(['INFO', 'server'], 'reading metadata of');
    const memory = await this.command(['INFO', 'memory'], 'reading metadata of');
    const keys = await this.command(['DBSIZE'], 'reading metadata of');
    const field = (text: string, name: string): string | undefined => new RegExp(`^${name}:(.*)$`, 'm').exec(text)?.[1]?.trim();
    return {
      server: this.server(),
      serverVersion: field(info, 'redis_version'),
      keys: Number(keys.trim()),
      usedMemoryBytes: Number(field(memory, 'used_memory')),
    };
  }
}
