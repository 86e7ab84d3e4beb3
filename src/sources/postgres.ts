import { CairnError } from '../errors.js';
import { processStdout, programNotStartedError, runProcess, type ProcessFailure } from './processStream.js';
import type { Source, SourceItem, SourceMetadata, SourceRestoreOptions, StoredContent } from './source.js';

/** Where the PostgreSQL client programs are, when not on PATH. */
export interface PostgresBinaries {
  pg_dump?: string;
  pg_restore?: string;
  psql?: string;
}

/** Options of a {@link PostgresSource}: one database on one server. */
export interface PostgresSourceOptions {
  /** The source's name inside its component; default "postgres". */
  name?: string;
  /** The database to back up. */
  database: string;
  /** Host name, IP address, or the directory holding the server's unix socket. Default: libpq's default. */
  host?: string;
  /** Port (also part of the unix socket's name). Default: libpq's default (5432). */
  port?: number;
  /** Role to connect as. Default: libpq's default. */
  user?: string;
  /** Password, already resolved from the config's secret; passed through PGPASSWORD, never on the command line. */
  password?: string;
  /** Database to connect to for CREATE/DROP DATABASE. Default "postgres". */
  maintenanceDatabase?: string;
  /** Paths of pg_dump / pg_restore / psql; default: found on PATH. */
  binaries?: PostgresBinaries;
  /** Extra pg_dump arguments (e.g. ["--exclude-table=audit_log"]). */
  dumpArgs?: string[];
}

/** A libpq connection string for one database name; quoting keeps names with "=" or spaces literal. */
function dbConninfo(database: string): string {
  return `dbname='${database.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/**
 * A PostgreSQL database, backed up as one `pg_dump -Fc` stream (`<database>.pgdump`)
 * that goes straight into the repository: no temporary file. pg_dump runs in one
 * repeatable-read snapshot, so a database being written to restores to a state
 * where each transaction is all there or not at all. Restore runs `pg_restore
 * --clean --if-exists --single-transaction` from the stored stream, so a failing
 * restore leaves the target as it was.
 */
export class PostgresSource implements Source {
  readonly name: string;
  readonly kind = 'postgres';
  private readonly options: PostgresSourceOptions;

  constructor(options: PostgresSourceOptions) {
    if (!options.database) throw new CairnError('postgres-config', 'a postgres source needs a database name', 'set "database" in the source options');
    this.options = options;
    this.name = options.name ?? 'postgres';
  }

  /** The stored item's name. */
  get itemName(): string {
    return `${this.options.database}.pgdump`;
  }

  /** "PostgreSQL at /run/postgresql:5432", for messages. */
  private server(): string {
    const host = this.options.host ?? process.env.PGHOST ?? 'the default socket';
    const port = this.options.port ?? process.env.PGPORT ?? 5432;
    return `PostgreSQL at ${host}:${port}`;
  }

  private program(which: keyof PostgresBinaries): string {
    return this.options.binaries?.[which] ?? which;
  }

  /** Connection flags shared by every client program (the database is given separately). */
  private connectionArgs(): string[] {
    const args: string[] = ['--no-password'];
    if (this.options.host !== undefined) args.push('--host', this.options.host);
    if (this.options.port !== undefined) args.push('--port', String(this.options.port));
    if (this.options.user !== undefined) args.push('--username', this.options.user);
    return args;
  }

  private env(): Record<string, string | undefined> {
    return {
      PGPASSWORD: this.options.password ?? process.env.PGPASSWORD,
      PGCONNECT_TIMEOUT: process.env.PGCONNECT_TIMEOUT ?? '10',
      PGAPPNAME: 'cairn',
    };
  }

  /** One clear error for a failed client program: what failed, on which server, stderr's tail, a remedy. */
  private failure(action: string, database: string, f: ProcessFailure): CairnError {
    if (f.spawnError) return programNotStartedError(f);
    const where = `database "${database}" on ${this.server()}`;
    const detail = f.stderrTail || (f.signal ? `killed by ${f.signal}` : `exit code ${f.exitCode}`);
    const message = `${action} ${where} failed: ${detail}`;
    const host = this.options.host ?? 'localhost';
    const port = this.options.port ?? 5432;
    if (/could not connect|connection refused|no such file or directory|could not translate host name|timeout expired|server closed the connection/i.test(f.stderrTail)) {
      return new CairnError('postgres-unreachable', message, `start the server or fix host/port in the source options; check with: pg_isready -h ${host} -p ${port}`);
    }
    if (/password authentication failed|no password supplied|role "[^"]*" does not exist|no pg_hba\.conf entry|peer authentication failed/i.test(f.stderrTail)) {
      return new CairnError('postgres-auth', message, `check the user and password of this source (user "${this.options.user ?? 'default'}") and the server's pg_hba.conf`);
    }
    if (/database "[^"]*" does not exist/i.test(f.stderrTail)) {
      return new CairnError('postgres-no-database', message, `check the database name in the source options; list databases with: psql -h ${host} -p ${port} -l`);
    }
    if (/read-only transaction|permission denied|must be owner|must be superuser/i.test(f.stderrTail)) {
      return new CairnError(
        'postgres-refused',
        message,
        `give the user write access to "${database}" (e.g. ALTER DATABASE ... SET default_transaction_read_only = off), or restore into another database with --to`,
      );
    }
    return new CairnError('postgres-failed', message, `run ${f.program} by hand against ${where} to see the whole output`);
  }

  /** Runs a psql script (psql variables `:'name'`/`:"name"` are set from `vars`) and returns its unaligned output. */
  private async psql(database: string, script: string, vars: Record<string, string> = {}, action = 'a query on'): Promise<string> {
    const args = ['-X', '-A', '-t', '-q', '-v', 'ON_ERROR_STOP=1', '-F', '\t', ...this.connectionArgs(), '-d', dbConninfo(database)];
    for (const [k, v] of Object.entries(vars)) args.push('-v', `${k}=${v}`);
    args.push('-f', '-');
    const { stdout } = await runProcess(this.program('psql'), args, {
      stdin: script,
      env: this.env(),
      onFailure: (f) => this.failure(action, database, f),
    });
    return stdout;
  }

  private maintenanceDb(): string {
    return this.options.maintenanceDatabase ?? 'postgres';
  }

  /** One stream item: pg_dump's custom-format output, streamed while pg_dump runs. */
  async items(): Promise<SourceItem[]> {
    const database = this.options.database;
    const open = async () =>
      processStdout(
        this.program('pg_dump'),
        ['--format=custom', ...this.connectionArgs(), ...(this.options.dumpArgs ?? []), '-d', dbConninfo(database)],
        { env: this.env(), onFailure: (f) => this.failure('pg_dump of', database, f) },
      );
    return [{ type: 'stream', name: this.itemName, open, mode: 0o600 }];
  }

  /** Creates `database` when it does not exist (restore after teardown, or into `--to`). */
  private async ensureDatabase(database: string): Promise<void> {
    await this.psql(
      this.maintenanceDb(),
      `SELECT format('CREATE DATABASE %I', :'target') WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'target') \\gexec\n`,
      { target: database },
      'creating',
    );
  }

  /**
   * Restores the dump into the same database (`--clean`: objects in the dump are
   * dropped and recreated; others are left alone) or into `options.to`, created
   * when missing. The live database is not touched when `to` names another one.
   */
  async restore(content: StoredContent, options: SourceRestoreOptions): Promise<void> {
    const names = await content.names();
    if (!names.includes(this.itemName)) {
      throw new CairnError(
        'postgres-nothing-stored',
        `the backup has no ${this.itemName} for source "${this.name}" (it holds: ${names.join(', ') || 'nothing'})`,
        'pick a snapshot made with this source, or check the database name in the source options',
      );
    }
    const target = options.to ?? this.options.database;
    await this.ensureDatabase(target);
    const stream = await content.openStream(this.itemName);
    await runProcess(
      this.program('pg_restore'),
      ['--clean', '--if-exists', '--no-owner', '--single-transaction', '--exit-on-error', ...this.connectionArgs(), '-d', dbConninfo(target)],
      { stdin: stream, env: this.env(), onFailure: (f) => this.failure('restoring into', target, f) },
    );
  }

  /** Teardown: drops the database, disconnecting its sessions. */
  async remove(): Promise<void> {
    await this.psql(this.maintenanceDb(), `DROP DATABASE IF EXISTS :"target" WITH (FORCE);\n`, { target: this.options.database }, 'dropping');
  }

  /** Throws unless `SELECT 1` succeeds on the database. */
  async health(): Promise<void> {
    const out = await this.psql(this.options.database, 'SELECT 1;\n', {}, 'a health check of');
    if (out.trim() !== '1') {
      throw new CairnError('postgres-unhealthy', `database "${this.options.database}" on ${this.server()} answered "${out.trim()}" to SELECT 1`, 'check the server log');
    }
  }

  /** Server version and database size. */
  async metadata(): Promise<SourceMetadata> {
    const out = await this.psql(
      this.options.database,
      `SELECT current_setting('server_version'), pg_database_size(current_database());\n`,
      {},
      'reading metadata of',
    );
    const [version, size] = out.trim().split('\t');
    return { server: this.server(), database: this.options.database, serverVersion: version, databaseSizeBytes: Number(size) };
  }
}
