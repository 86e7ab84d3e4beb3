import type { Source } from '../sources/source.js';
import { PostgresSource } from '../sources/postgres.js';
import { MariadbSource, MysqlSource } from '../sources/mysql.js';
import { SqliteSource } from '../sources/sqlite.js';
import { RedisSource } from '../sources/redis.js';
import { CommandSource } from '../sources/command.js';
import { FilesSource } from '../sources/files.js';
import { PodmanSource } from '../sources/podman.js';
import { DockerSource } from '../sources/docker.js';
import { normalizeCommand, type CommandConfig, type SourceConfig } from './config.js';

function shellCommand(c: CommandConfig | undefined): string | undefined {
  return c === undefined ? undefined : normalizeCommand(c).run;
}

/** Builds the Source for one `sources:` entry of cairn.yaml (secrets already resolved). */
export function createSource(cfg: SourceConfig, log: (line: string) => void = () => {}): Source {
  const password = (cfg as { password?: string }).password;
  switch (cfg.type) {
    case 'files':
      return new FilesSource({ name: cfg.name, paths: cfg.paths, excludes: cfg.exclude });
    case 'postgres':
      return new PostgresSource({ name: cfg.name, database: cfg.database, host: cfg.host, port: cfg.port, user: cfg.user, password, dumpArgs: cfg.dump_args });
    case 'mysql':
    case 'mariadb': {
      const Kind = cfg.type === 'mysql' ? MysqlSource : MariadbSource;
      return new Kind({ name: cfg.name, database: cfg.database, socket: cfg.socket, host: cfg.host, port: cfg.port, user: cfg.user, password, dumpArgs: cfg.dump_args });
    }
    case 'sqlite':
      return new SqliteSource({ name: cfg.name, path: cfg.path });
    case 'redis':
      return new RedisSource({
        name: cfg.name,
        socket: cfg.socket,
        host: cfg.host,
        port: cfg.port,
        user: cfg.username,
        password,
        stopCommand: shellCommand(cfg.stop),
        startCommand: shellCommand(cfg.start),
        dataDir: cfg.data_dir,
      });
    case 'command': {
      const backup = normalizeCommand(cfg.backup);
      return new CommandSource({ name: cfg.name, command: backup.run, restoreCommand: shellCommand(cfg.restore), itemName: cfg.filename, cwd: backup.cwd, env: backup.env });
    }
    case 'podman':
      return new PodmanSource({
        name: cfg.name,
        quadlets: cfg.quadlets,
        volumes: cfg.volumes,
        bindMounts: cfg.bind_mounts,
        volumeData: cfg.volume_data,
        systemd: cfg.systemd,
        userServices: cfg.user_services,
        podman: podmanClientFromEnv(),
        onWarning: (m) => log(`${cfg.name}: ${m}`),
      });
    case 'docker':
      return new DockerSource({ name: cfg.name, project: cfg.project, volumes: cfg.volumes, composeFiles: cfg.compose_files, volumeData: cfg.volume_data, host: cfg.host, onWarning: (m) => log(`${cfg.name}: ${m}`) });
  }
}

/** podman storage overrides from the environment (CAIRN_PODMAN_ROOT, _RUNROOT, _CONF): lets tests and unusual setups use their own storage. */
function podmanClientFromEnv(): ConstructorParameters<typeof PodmanSource>[0]['podman'] {
  const env = process.env;
  if (!env.CAIRN_PODMAN_ROOT && !env.CAIRN_PODMAN_CONF) return undefined;
  return { root: env.CAIRN_PODMAN_ROOT, runroot: env.CAIRN_PODMAN_RUNROOT, containersConf: env.CAIRN_PODMAN_CONF, storageDriver: env.CAIRN_PODMAN_STORAGE_DRIVER, tmpdir: env.CAIRN_PODMAN_TMPDIR };
}
