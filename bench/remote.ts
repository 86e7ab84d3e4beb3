// Repositories on loopback servers for `--case sftp` and `--case rest`: the same real servers the
// tests use (OpenSSH's sftp via test/helpers/sshd.ts, `rclone serve restic` via
// test/helpers/rcloneRest.ts), one server for both tools, so they cross the same network stack.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { startRcloneRest } from '../test/helpers/rcloneRest.js';
import { startSshd } from '../test/helpers/sshd.js';
import type { RepoSpec } from './tools.js';

/** The two repositories of a remote case and how to stop their server. */
export interface RemoteRepos {
  cairn: RepoSpec;
  restic: RepoSpec;
  /** One line for the results: what server, and what is not counted. */
  note: string;
  stop(): Promise<void>;
}

/**
 * Both repositories on one throwaway sshd. cairn (ssh2, in-process) finds key and known_hosts through
 * an ~/.ssh/config in its own HOME; restic runs `ssh` with the same key and known_hosts (sftp.command).
 */
export async function sftpRepos(workDir: string): Promise<RemoteRepos> {
  const sshd = await startSshd();
  const home = path.join(workDir, 'home');
  mkdirSync(path.join(home, '.ssh'), { recursive: true, mode: 0o700 });
  writeFileSync(
    path.join(home, '.ssh', 'config'),
    `Host 127.0.0.1\n  Port ${sshd.port}\n  User ${sshd.user}\n  IdentityFile ${sshd.clientKey}\n  IdentitiesOnly yes\n  UserKnownHostsFile ${sshd.knownHostsFile}\n`,
    { mode: 0o600 },
  );
  const spec = (name: string): RepoSpec => {
    const dir = path.join(sshd.dir, 'repos', name);
    return {
      location: `sftp://${sshd.user}@127.0.0.1:${sshd.port}/${dir}`,
      localDir: dir,
      cairnEnv: { HOME: home, SSH_AUTH_SOCK: undefined },
      resticArgs: ['-o', `sftp.command=ssh ${sshd.sshArgs.join(' ')} ${sshd.user}@127.0.0.1 -s sftp`],
    };
  };
  return {
    cairn: spec('cairn'),
    restic: spec('restic'),
    note: `sftp: both repositories on one OpenSSH sshd on 127.0.0.1:${sshd.port}; the server's CPU is counted for neither tool, restic's ssh client process is counted for restic (it is part of its process tree)`,
    stop: () => sshd.stop(),
  };
}

/** Both repositories on one `rclone serve restic` on 127.0.0.1. */
export async function restRepos(): Promise<RemoteRepos> {
  const server = await startRcloneRest();
  const spec = (name: string): RepoSpec => ({ location: `rest:${server.url}${name}/`, localDir: path.join(server.dir, name) });
  return {
    cairn: spec('cairn'),
    restic: spec('restic'),
    note: `rest: both repositories on one \`rclone serve restic\` at ${server.url}; the server's CPU is counted for neither tool`,
    stop: () => server.stop(),
  };
}
