import { CairnError } from '../errors.js';
import { processStdout, programNotStartedError, resolveProgram, runProcess, type ProcessFailure } from './processStream.js';
import type { Source, SourceItem, SourceMetadata, SourceRestoreOptions, StoredContent } from './source.js';

/** Where the MariaDB/MySQL client programs are, when not on PATH. */
export interface MysqlBinaries {
  /** The dump program; default mariadb-dump, else mysqldump. */
  dump?: string;
  /** The command-line client; default mariadb, else mysql. */
  client?: string;
}

/** Options of a {@link MysqlSource}: one database on one MariaDB or MySQL server. */
export interface MysqlSourceOptions {
  /** The source's name inside its component; default "mysql" (or "mariadb" for that kind). */
  name?: string;
  /** The database (schema) to back up. */
  database: string;
  /** Unix socket path; when set, host/port are not used. */
  socket?: string;
  /** Host name or IP address (TCP). */
  host?: string;
  /** TCP port; default 3306. */
  port?: number;
  /** User to connect as. */
  user?: string;
  /** Password, already resolved; passed through MYSQL_PWD, never on the command line. */
  password?: string;
  /** Paths of the dump program and the client; default: found on PATH. */
  binaries?: MysqlBinaries;
  /** Extra dump arguments (e.g. ["--ignore-table=app.sessions"]). */
  dumpArgs?: string[];
}

/** A MySQL identifier in backquotes. */
function quoteIdent(name: string): string {
  return '`' + name.replace(/`/g, '``') + '`';
}

/** A MySQL string literal. */
function quoteString(text: string): string {
  return "'" + text.replace(/\\/g, '\\\\').replace(/'/g, "''") + "'";
}

/**
 * A MariaDB/MySQL database, backed up as one SQL stream (`<database>.sql`) from
 * `mariadb-dump --single-transaction` (one consistent InnoDB snapshot, no global
 * lock) with routines, triggers and events, streamed straight into the
 * repository. The dump names no database, so it restores into the same one or
 * into any other (`--to`), through the client.
 */
export class MysqlSource implements Source {
  readonly name: string;
  readonly kind: string;
  private readonly options: MysqlSourceOptions;

  constructor(options: MysqlSourceOptions, kind: 'mysql' | 'mariadb' = 'mysql') {
    if (!options.database) throw new CairnError('mysql-config', `a ${kind} source needs a database name`, 'set "database" in the source options');
    this.options = options;
    this.kind = kind;
    this.name = options.name ?? kind;
  }

  /** The stored item's name. */
  get itemName(): string {
    return `${this.options.database}.sql`;
  }

  /** "MariaDB/MySQL at /run/mysqld/mysqld.sock", for messages. */
  private server(): string {
    if (this.options.socket) return `MariaDB/MySQL at ${this.options.socket}`;
    return `MariaDB/MySQL at ${this.options.host ?? 'localhost'}:${this.options.port ?? 3306}`;
  }

  private dumpProgram(): string {
    return this.options.binaries?.dump ?? resolveProgram(['mariadb-dump', 'mysqldump']);
  }

  private clientProgram(): string {
    return this.options.binaries?.client ?? resolveProgram(['mariadb', 'mysql']);
  }

  private connectionArgs(): string[] {
    const args: string[] = [];
    if (this.options.socket) args.push(`--socket=${this.options.socket}`, '--protocol=SOCKET');
    else if (this.options.host !== undefined || this.options.port !== undefined) {
      args.push(`--host=${this.options.host ?? '127.0.0.1'}`, `--port=${this.options.port ?? 3306}`, '--protocol=TCP');
    }
    if (this.options.user !== undefined) args.push(`--user=${this.options.user}`);
    return args;
  }

  private env(): Record<string, string | undefined> {
    return { MYSQL_PWD: this.options.password ?? process.env.MYSQL_PWD };
  }

  /** One clear error for a failed client program: what failed, on which server, stderr's tail, a remedy. */
  private failure(action: string, database: string, f: ProcessFailure): CairnError {
    if (f.spawnError) return programNotStartedError(f);
    const where = `database "${database}" on ${this.server()}`;
    const detail = f.stderrTail || (f.signal ? `killed by ${f.signal}` : `exit code ${f.exitCode}`);
    const message = `${action} ${where} failed: ${detail}`;
    const t = f.stderrTail;
    if (/can't connect|lost connection|unknown (mysql|mariadb) server host|\(2002\)|\(2003\)|\(2005\)|\(2013\)/i.test(t)) {
      return new CairnError('mysql-unreachable', message, `start the server or fix socket/host/port in the source options; check with: mariadb-admin ${this.connectionArgs().join(' ')} ping`);
    }
    if (/\(1045\)|access denied for user '[^']*'@'[^']*' \(using password/i.test(t)) {
      return new CairnError('mysql-auth', message, `check the user and password of this source (user "${this.options.user ?? 'default'}")`);
    }
    if (/\(1049\)|unknown database/i.test(t)) {
      return new CairnError('mysql-no-database', message, `check the database name in the source options; list databases with: mariadb -e 'SHOW DATABASES'`);
    }
    if (/command denied|access denied|read-only|read_only|\(1044\)|\(1142\)|\(1290\)|\(1792\)/i.test(t)) {
      return new CairnError('mysql-refused', message, `grant the user write access to "${database}" (or turn off read_only), or restore into another database with --to`);
    }
    return new CairnError('mysql-failed', message, `run ${f.program} by hand against ${where} to see the whole output`);
  }

  /** Runs SQL through the client (batch mode, no column names) and returns its tab-separated output. */
  private async sql(statements: string, database: string | undefined, action: string, forDatabase: string): Promise<string> {
    const args = [...this.connectionArgs(), '--batch', '--skip-column-names'];
    if (database !== undefined) args.push(`--database=${database}`);
    // --execute rather than stdin: errors then come without the echoed statement.
    args.push(`--execute=${statements}`);
    const { stdout } = await runProcess(this.clientProgram(), args, {
      env: this.env(),
      onFailure: (f) => this.failure(action, forDatabase, f),
    });
    return stdout;
  }

  /** One stream item: the dump's SQL, streamed while the dump runs. */
  async items(): Promise<SourceItem[]> {
    const database = this.options.database;
    const args = [
      ...this.connectionArgs(),
      '--single-transaction',
      '--routines',
      '--triggers',
      '--events',
      '--hex-blob',
      ...(this.options.dumpArgs ?? []),
      // "--" keeps a database name starting with "-" from being read as an option.
      '--',
      database,
    ];
    const open = async () =>
      processStdout(this.dumpProgram(), args, { env: this.env(), onFailure: (f) => this.failure('dump of', database, f) });
    return [{ type: 'stream', name: this.itemName, open, mode: 0o600 }];
  }

  /**
   * Loads the dump into the same database (its tables are dropped and recreated;
   * tables not in the dump are left alone) or into `options.to`. The database is
   * created first when missing (after teardown, or a new `--to` name).
   */
  async restore(content: StoredContent, options: SourceRestoreOptions): Promise<void> {
    const names = await content.names();
    if (!names.includes(this.itemName)) {
      throw new CairnError(
        'mysql-nothing-stored',
        `the backup has no ${this.itemName} for source "${this.name}" (it holds: ${names.join(', ') || 'nothing'})`,
        'pick a snapshot made with this source, or check the database name in the source options',
      );
    }
    const target = options.to ?? this.options.database;
    // Only create when missing: a user allowed to restore into an existing database may lack CREATE.
    const exists = await this.sql(`SELECT 1 FROM information_schema.schemata WHERE schema_name = ${quoteString(target)}`, undefined, 'looking up', target);
    if (exists.trim() !== '1') await this.sql(`CREATE DATABASE ${quoteIdent(target)}`, undefined, 'creating', target);
    const stream = await content.openStream(this.itemName);
    await runProcess(this.clientProgram(), [...this.connectionArgs(), '--batch', `--database=${target}`], {
      stdin: stream,
      env: this.env(),
      onFailure: (f) => this.failure('restoring into', target, f),
    });
  }

  /** Teardown: drops the database. */
  async remove(): Promise<void> {
    await this.sql(`DROP DATABASE IF EXISTS ${quoteIdent(this.options.database)}`, undefined, 'dropping', this.options.database);
  }

  /** Throws unless `SELECT 1` succeeds in the database. */
  async health(): Promise<void> {
    const out = await this.sql('SELECT 1', this.options.database, 'a health check of', this.options.database);
    if (out.trim() !== '1') {
      throw new CairnError('mysql-unhealthy', `database "${this.options.database}" on ${this.server()} answered "${out.trim()}" to SELECT 1`, 'check the server log');
    }
  }

  /** Server version and the database's data + index size. */
  async metadata(): Promise<SourceMetadata> {
    const out = await this.sql(
      `SELECT VERSION(), COALESCE(SUM(data_length + index_length), 0) FROM information_schema.tables WHERE table_schema = ${quoteString(this.options.database)}`,
      undefined,
      'reading metadata of',
      this.options.database,
    );
    const [version, size] = out.trim().split('\t');
    return { server: this.server(), database: this.options.database, serverVersion: version, databaseSizeBytes: Number(size) };
  }
}

/** The same source under the kind name "mariadb". */
export class MariadbSource extends MysqlSource {
  constructor(options: MysqlSourceOptions) {
    super(options, 'mariadb');
  }
}
