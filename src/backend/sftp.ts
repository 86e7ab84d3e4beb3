import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import SSHConfig from 'ssh-config';
import ssh2 from 'ssh2';
import type { AnyAuthMethod, ClientErrorExtensions, ConnectConfig, ParsedKey, SFTPWrapper, ServerHostKeyAlgorithm, Stats } from 'ssh2';
import { CairnError, ExitCode, describeError, isErrno } from '../errors.js';
import { type Backend, type FileInfo, type FileType, type Handle, handlePath, isStorageId, typeFolders } from './backend.js';
import type { WriteOptions } from './retry.js';
import { systemStagingDir } from './staging.js';

const { Client, utils: sshUtils } = ssh2;

/** How to reach and authenticate to an SFTP server. */
export interface SftpOptions {
  host: string;
  /** Repository path: relative to the login directory unless it starts with "/". */
  path: string;
  /** Login name (default: the local user name). */
  user?: string;
  /** Default 22. */
  port?: number;
  /** Private key file(s) to try first; then the agent, then ~/.ssh/id_ed25519, id_ecdsa, id_rsa. */
  identityFile?: string | string[];
  /** Passphrase of encrypted identity files. */
  passphrase?: string;
  /** known_hosts file(s) to check the server's key against (default ~/.ssh/known_hosts and /etc/ssh/ssh_known_hosts). */
  knownHostsFile?: string | string[];
  /** ssh-agent socket (default $SSH_AUTH_SOCK); false disables the agent. */
  agent?: string | false;
  /** Home directory for the ~/.ssh defaults (default os.homedir()). */
  homeDir?: string;
  /**
   * OpenSSH client config read for this host, as ssh does for restic (default ~/.ssh/config; false: none).
   * HostName, User, Port, IdentityFile, IdentitiesOnly, IdentityAgent and UserKnownHostsFile are honoured;
   * values given in the location or these options win.
   */
  sshConfigFile?: string | false;
  /** Handshake timeout (default 20 s). */
  readyTimeoutMs?: number;
  /** SSH keepalive period used to notice a dead connection (default 15 s, 3 misses). */
  keepaliveIntervalMs?: number;
}

// Requests in flight per transfer and bytes per request: enough to fill a WAN link without flooding the server.
const chunkSize = 64 * 1024;
const transferConcurrency = 16;
const listConcurrency = 8;

const SFTP_NO_SUCH_FILE = 2;
const SFTP_PERMISSION_DENIED = 3;

/** One live SSH connection with its SFTP channel. */
interface Session {
  client: InstanceType<typeof Client>;
  sftp: SFTPWrapper;
  posixRename: boolean;
  fsync: boolean;
  /** Runs one SFTP request; fails at once if the connection is (or goes) down, so nothing waits forever. */
  req<T>(fn: (cb: Callback<T>) => void): Promise<T>;
}

type Callback<T> = (err: Error | undefined | null, value?: T) => void;

/** A repository on an SFTP server (OpenSSH or compatible), laid out exactly as restic's sftp backend does. */
export class SftpBackend implements Backend {
  readonly location: string;
  private readonly opts: SftpOptions;
  private readonly root: string;
  // Where and as whom to log in: from the options, completed from ~/.ssh/config on the first connect.
  private host: string;
  private user: string;
  private port: number;
  private server: string;
  private fromConfig: { identityFiles: string[]; identitiesOnly: boolean; agent?: string | false; knownHostsFiles: string[] } | undefined;
  private session: Promise<Session> | undefined;
  private readonly createdDirs = new Set<string>();

  constructor(opts: SftpOptions) {
    this.opts = opts;
    this.host = opts.host;
    this.user = opts.user ?? os.userInfo().username;
    this.port = opts.port ?? 22;
    this.root = opts.path.replace(/\/+$/, '') || '/';
    this.server = this.serverLabel();
    const host = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
    const user = opts.user !== undefined ? `${opts.user}@` : '';
    this.location = opts.port === undefined || opts.port === 22 ? `sftp:${user}${host}:${opts.path}` : `sftp://${user}${host}:${opts.port}/${opts.path}`;
  }

  private serverLabel(): string {
    const host = this.host.includes(':') ? `[${this.host}]` : this.host;
    return `${this.user}@${host}${this.port === 22 ? '' : `:${this.port}`}`;
  }

  /** Applies the Host sections of ~/.ssh/config that match the host as given (once). */
  private async applySshConfig(): Promise<void> {
    if (this.fromConfig) return;
    const file = this.opts.sshConfigFile === false ? undefined : (this.opts.sshConfigFile ?? path.join(this.homeDir(), '.ssh', 'config'));
    let c: Record<string, string | string[]> = {};
    if (file !== undefined) {
      try {
        c = SSHConfig.parse(await fs.readFile(file, 'utf8')).compute(this.opts.host, { ignoreCase: true, matchExec: false });
      } catch (err) {
        if (!isErrno(err, 'ENOENT')) throw new CairnError('ssh-config', `cannot use the SSH client config ${file}: ${describeError(err)}`, 'Fix the file (check it with `ssh -G HOST`), or remove the offending lines.');
      }
    }
    const one = (k: string): string | undefined => {
      const v = c[k];
      return Array.isArray(v) ? v[0] : v;
    };
    const many = (k: string): string[] => {
      const v = c[k];
      return v === undefined ? [] : Array.isArray(v) ? v : [v];
    };
    if (one('hostname') !== undefined) this.host = this.expand(one('hostname')!);
    if (this.opts.user === undefined && one('user') !== undefined) this.user = one('user')!;
    if (this.opts.port === undefined && one('port') !== undefined) {
      const port = Number(one('port'));
      if (Number.isInteger(port) && port > 0 && port < 65536) this.port = port;
    }
    this.server = this.serverLabel();
    const agent = one('identityagent');
    this.fromConfig = {
      identityFiles: many('identityfile').map((f) => this.expand(f)),
      identitiesOnly: one('identitiesonly')?.toLowerCase() === 'yes',
      ...(agent === undefined || agent === 'SSH_AUTH_SOCK' ? {} : { agent: agent.toLowerCase() === 'none' ? false : this.expand(agent) }),
      knownHostsFiles: many('userknownhostsfile').flatMap((v) => v.split(/\s+/)).filter((f) => f !== '' && f.toLowerCase() !== 'none').map((f) => this.expand(f)),
    };
  }

  /** Expands ~ and the %-tokens ssh allows in file names. */
  private expand(v: string): string {
    const home = this.homeDir();
    const out = v.replace(/%([%dhpru])/g, (_, t: string) => ({ '%': '%', d: home, h: this.host, p: String(this.port), r: this.user, u: os.userInfo().username })[t] ?? '');
    return out === '~' ? home : out.startsWith('~/') ? path.join(home, out.slice(2)) : out;
  }

  private remotePath(h: Handle): string {
    return path.posix.join(this.root, handlePath(h));
  }

  // ---- connection ----

  /** The current SFTP channel, connecting (again) if there is none: a dropped connection is re-established on the next call. */
  private async sftp(): Promise<Session> {
    if (!this.session) {
      const p = this.connect();
      this.session = p;
      p.catch(() => {
        if (this.session === p) this.session = undefined;
      });
    }
    return this.session;
  }

  private async connect(): Promise<Session> {
    await this.applySshConfig();
    const hostKeys = await loadKnownHosts(this.knownHostsFiles());
    const lookup = knownHostsName(this.host, this.port);
    const known = hostKeys.filter((e) => !e.revoked && e.matches(lookup));
    const auth = await this.authMethods();
    let refusal: CairnError | undefined;

    const client = new Client();
    const config: ConnectConfig = {
      host: this.host,
      port: this.port,
      username: this.user,
      readyTimeout: this.opts.readyTimeoutMs ?? 20_000,
      keepaliveInterval: this.opts.keepaliveIntervalMs ?? 15_000,
      keepaliveCountMax: 3,
      authHandler: auth.methods,
      // Prefer the key types we already know for this host, as OpenSSH does, so a known host is not reported as changed.
      algorithms: { serverHostKey: preferredHostKeyAlgorithms(known.map((e) => e.keyType)) },
      hostVerifier: (key: Buffer): boolean => {
        refusal = this.checkHostKey(key, lookup, hostKeys);
        return refusal === undefined;
      },
    };
    return new Promise<Session>((resolve, reject) => {
      let ready = false;
      const p = this.session;
      const forget = (): void => {
        if (this.session === p) this.session = undefined;
      };
      client.on('error', (err: Error & ClientErrorExtensions) => {
        forget();
        if (!ready) reject(refusal ?? this.connectError(err, auth.tried));
      });
      client.on('close', () => {
        forget();
        if (!ready) reject(refusal ?? new CairnError('connection-lost', `the sftp server ${this.server} closed the connection during login`, this.reachRemedy()));
      });
      client.on('ready', () => {
        client.sftp((err, sftp) => {
          if (err) {
            client.end();
            reject(new CairnError('sftp-unavailable', `${this.server} accepted the login but refused the sftp subsystem: ${err.message}`, 'Enable "Subsystem sftp" in the server\'s sshd_config.'));
            return;
          }
          ready = true;
          // ssh2 fails the requests in flight when the connection drops, but a request issued
          // afterwards would never be answered: track the state and fail those at once.
          let down: Error | undefined;
          const waiters = new Set<(e: Error) => void>();
          const markDown = (): void => {
            forget();
            if (down) return;
            down = new Error('the connection is closed');
            for (const w of waiters) w(down);
            waiters.clear();
          };
          client.on('close', markDown);
          client.on('end', markDown);
          sftp.on('close', () => {
            markDown();
            client.end();
          });
          const req = <T>(fn: (cb: Callback<T>) => void): Promise<T> =>
            new Promise<T>((res, rej) => {
              if (down) return rej(down);
              waiters.add(rej);
              try {
                fn((err, value) => {
                  waiters.delete(rej);
                  if (err) rej(err);
                  else res(value as T);
                });
              } catch (err) {
                // ssh2 throws synchronously when the channel is already closed.
                waiters.delete(rej);
                rej(err);
              }
            });
          // ssh2 keeps the extensions the server announced; OpenSSH has posix-rename (atomic replace) and fsync.
          const ext = (sftp as unknown as { _extensions: Record<string, string> })._extensions ?? {};
          resolve({ client, sftp, req, posixRename: ext['posix-rename@openssh.com'] === '1', fsync: ext['fsync@openssh.com'] === '1' });
        });
      });
      client.connect(config);
    });
  }

  private knownHostsFiles(): string[] {
    const f = this.opts.knownHostsFile;
    if (f !== undefined) return Array.isArray(f) ? f : [f];
    if (this.fromConfig && this.fromConfig.knownHostsFiles.length > 0) return this.fromConfig.knownHostsFiles;
    return [path.join(this.homeDir(), '.ssh', 'known_hosts'), '/etc/ssh/ssh_known_hosts'];
  }

  private homeDir(): string {
    return this.opts.homeDir ?? os.homedir();
  }

  /** undefined when the key is known for this host; otherwise the reason to refuse it. */
  private checkHostKey(key: Buffer, lookup: string, entries: KnownHostEntry[]): CairnError | undefined {
    const fp = fingerprint(key);
    const type = sshString(key, 0)?.toString() ?? 'unknown';
    const files = this.knownHostsFiles();
    const forHost = entries.filter((e) => e.matches(lookup));
    if (forHost.some((e) => e.revoked && e.key.equals(key))) {
      return new CairnError('host-key-revoked', `the host key of ${lookup} (${type} ${fp}) is marked @revoked in known_hosts: refusing to connect`, 'Ask the server\'s administrator for its current host key.');
    }
    const current = forHost.filter((e) => !e.revoked);
    if (current.some((e) => e.key.length === key.length && timingSafeEqual(e.key, key))) return undefined;
    const keyscan = `ssh-keyscan${this.port === 22 ? '' : ` -p ${this.port}`} ${this.host}`;
    if (current.length > 0) {
      const where = current.map((e) => `${e.file}:${e.line}`).join(', ');
      return new CairnError(
        'host-key-changed',
        `the host key of ${lookup} has CHANGED: the server now shows ${type} ${fp}, which does not match ${where}; refusing to connect (this can be a man-in-the-middle attack)`,
        `Check with the server's administrator that its key really changed; only then remove the old key with \`ssh-keygen -R "${lookup}" -f ${current[0]!.file}\` and add the new one with \`${keyscan} >> ${current[0]!.file}\`.`,
      );
    }
    return new CairnError(
      'unknown-host-key',
      `the sftp server ${lookup} is not in known_hosts (${files.join(', ')}); its ${type} key fingerprint is ${fp}`,
      `Compare the fingerprint with \`ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub\` on the server, then add it with \`${keyscan} >> ${files[0]}\` (or connect once with ssh).`,
    );
  }

  private async authMethods(): Promise<{ methods: AnyAuthMethod[]; tried: string[] }> {
    const methods: AnyAuthMethod[] = [];
    const tried: string[] = [];
    const skipped: string[] = [];
    const explicit = this.opts.identityFile === undefined ? [] : Array.isArray(this.opts.identityFile) ? this.opts.identityFile : [this.opts.identityFile];
    const addKey = async (file: string, required: boolean): Promise<void> => {
      let text: Buffer;
      try {
        text = await fs.readFile(file);
      } catch (err) {
        if (required) throw new CairnError('credentials', `cannot read the SSH identity file ${file}: ${describeError(err)}`, 'Check the path of the identity file.');
        return;
      }
      const parsed = sshUtils.parseKey(text, this.opts.passphrase);
      const key: ParsedKey | undefined = parsed instanceof Error ? undefined : Array.isArray(parsed) ? (parsed[0] as ParsedKey | undefined) : parsed;
      if (key === undefined || !key.isPrivateKey()) {
        const why = parsed instanceof Error ? parsed.message : 'not a private key';
        if (required) throw new CairnError('credentials', `cannot use the SSH identity file ${file}: ${why}`, /encrypted|passphrase/i.test(why) ? 'Give its passphrase, or load the key into ssh-agent (ssh-add) and set SSH_AUTH_SOCK.' : 'Point to an OpenSSH private key (not the .pub file).');
        skipped.push(`${file} (${why})`);
        return;
      }
      methods.push({ type: 'publickey', username: this.user, key });
      tried.push(file);
    };
    // As ssh: keys named in the options or in ~/.ssh/config replace the default ~/.ssh/id_* files; the agent comes after them.
    const configured = this.fromConfig?.identityFiles ?? [];
    for (const f of explicit) await addKey(f, true);
    if (explicit.length === 0) for (const f of configured) await addKey(f, false);
    const agentSetting = this.opts.agent ?? this.fromConfig?.agent;
    const agent = agentSetting === false || (this.fromConfig?.identitiesOnly && this.opts.agent === undefined) ? undefined : (agentSetting ?? process.env.SSH_AUTH_SOCK);
    if (agent) {
      methods.push({ type: 'agent', username: this.user, agent });
      tried.push(`ssh-agent (${agent})`);
    }
    if (explicit.length === 0 && configured.length === 0) {
      for (const name of ['id_ed25519', 'id_ecdsa', 'id_rsa']) await addKey(path.join(this.homeDir(), '.ssh', name), false);
    }
    if (methods.length === 0) {
      throw new CairnError(
        'credentials',
        `no SSH key to log in to ${this.server}: no identity file given, no ssh-agent (SSH_AUTH_SOCK) and no usable ~/.ssh/id_ed25519, id_ecdsa or id_rsa${skipped.length ? `; skipped ${skipped.join(', ')}` : ''}`,
        `Create a key with \`ssh-keygen -t ed25519\` and install it with \`ssh-copy-id${this.port === 22 ? '' : ` -p ${this.port}`} ${this.server.replace(/:\d+$/, '')}\`, or give an identity file.`,
      );
    }
    return { methods, tried };
  }

  private reachRemedy(): string {
    return `Check that the SSH server is running and reachable: \`ssh${this.port === 22 ? '' : ` -p ${this.port}`} ${this.user}@${this.host}\`.`;
  }

  private connectError(err: Error & ClientErrorExtensions, tried: string[]): CairnError {
    if (err.level === 'client-authentication') {
      return new CairnError(
        'credentials',
        `the sftp server ${this.server} refused the login: none of the SSH keys was accepted (tried ${tried.join(', ')})`,
        `Add the public key to ~${this.user}/.ssh/authorized_keys on the server (\`ssh-copy-id${this.port === 22 ? '' : ` -p ${this.port}`} -i KEY ${this.user}@${this.host}\`), or give the right identity file.`,
        ExitCode.failure,
        { cause: err },
      );
    }
    const code = (err as { code?: unknown }).code;
    if (code === 'ENOTFOUND') {
      return new CairnError('host-not-found', `cannot resolve the sftp server name ${this.host}`, 'Check the host name in the repository location.', ExitCode.failure, { cause: err });
    }
    if (err.level === 'client-timeout') {
      return new CairnError('timeout', `the sftp server ${this.server} did not complete the SSH handshake in time`, this.reachRemedy(), ExitCode.failure, { cause: err });
    }
    const why = code === 'ECONNREFUSED' ? 'connection refused' : describeError(err);
    return new CairnError('server-unreachable', `cannot connect to the sftp server ${this.server}: ${why}`, this.reachRemedy(), ExitCode.failure, { cause: err });
  }

  /** Turns an error of an SFTP request into a CairnError naming the server and file. */
  private opError(err: unknown, h: Handle | undefined, what: string): unknown {
    if (err instanceof CairnError) return err;
    const code = (err as { code?: unknown })?.code;
    if (code === SFTP_NO_SUCH_FILE && h !== undefined) {
      if (h.type === 'config') {
        return new CairnError('no-repository', `${this.location} is not a cairn/restic repository (no config file)`, 'Check the repository location, or create one with `cairn init`.', ExitCode.noRepository);
      }
      return new CairnError('not-found', `${handlePath(h)} not found in ${this.location}`, 'The repository is missing a file; run `cairn check`.');
    }
    if (code === SFTP_PERMISSION_DENIED) {
      return new CairnError('permission-denied', `the sftp server ${this.server} denied ${what}`, `Check that ${this.user} may read and write ${this.root} on the server.`);
    }
    if (typeof code === 'number') {
      return new CairnError('sftp-failure', `the sftp server ${this.server} failed to ${what}: ${describeError(err)}`, 'Check the server (disk space, permissions, its logs).', ExitCode.failure, { cause: err });
    }
    // Anything else is the transport: the channel or the connection went away.
    return new CairnError('connection-lost', `lost the connection to the sftp server ${this.server} during ${what}: ${describeError(err)}`, this.reachRemedy(), ExitCode.failure, { cause: err });
  }

  /** Runs one SFTP request, mapping its errors. */
  private async call<T>(h: Handle | undefined, what: string, fn: (s: Session) => Promise<T>): Promise<T> {
    const s = await this.sftp();
    try {
      return await fn(s);
    } catch (err) {
      throw this.opError(err, h, what);
    }
  }

  // ---- operations ----

  async create(): Promise<void> {
    await this.call(undefined, `create ${this.root}`, async (s) => {
      await mkdirp(s, this.root);
      const dirs = Object.values(typeFolders).map((f) => path.posix.join(this.root, f));
      for (let i = 0; i < 256; i++) dirs.push(path.posix.join(this.root, 'data', i.toString(16).padStart(2, '0')));
      await forEachLimited(dirs, transferConcurrency, (d) => mkdirIfMissing(s, d));
      for (const d of dirs) this.createdDirs.add(d);
    });
  }

  async stat(h: Handle): Promise<FileInfo> {
    const st = await this.call(h, `stat ${handlePath(h)}`, (s) => s.req<Stats>((cb) => s.sftp.stat(this.remotePath(h), cb)));
    return { name: h.name, size: st.size };
  }

  async exists(h: Handle): Promise<boolean> {
    try {
      await this.stat(h);
      return true;
    } catch (err) {
      if (err instanceof CairnError && (err.code === 'not-found' || err.code === 'no-repository')) return false;
      throw err;
    }
  }

  async read(h: Handle, offset = 0, length = 0): Promise<Buffer> {
    const file = handlePath(h);
    return this.call(h, `read ${file}`, async (s) => {
      const handle = await s.req<Buffer>((cb) => s.sftp.open(this.remotePath(h), 'r', cb));
      try {
        let want = length;
        if (want === 0) {
          const st = await s.req<Stats>((cb) => s.sftp.fstat(handle, cb));
          want = Math.max(0, st.size - offset);
        }
        const buf = Buffer.allocUnsafe(want);
        let short = -1;
        await forEachLimited(chunks(want), transferConcurrency, async ([off, len]) => {
          let got = 0;
          while (got < len) {
            const n = await s.req<number>((cb) => s.sftp.read(handle, buf, off + got, len - got, offset + off + got, cb));
            if (n === 0) {
              short = short < 0 ? off + got : Math.min(short, off + got);
              return;
            }
            got += n;
          }
        });
        if (short >= 0) {
          throw new CairnError('short-read', `${file}: wanted ${want} bytes at offset ${offset}, the file on ${this.server} has only ${short}`, 'The file is truncated; run `cairn check` to find damaged files.');
        }
        return buf;
      } finally {
        await s.req<void>((cb) => s.sftp.close(handle, cb)).catch(() => {});
      }
    });
  }

  /** Uploads under a temporary name in the same folder, then renames: the file is visible only when complete. */
  async write(h: Handle, data: Buffer, opts: WriteOptions = {}): Promise<void> {
    await this.upload(h, data.length, async (off, len) => data.subarray(off, off + len), opts);
  }

  /** Packs are staged in the system's temp folder and streamed from there. */
  stagingDir(): string {
    return systemStagingDir();
  }

  /** Uploads a local file piece by piece from disk (reopened on every call, so a retry starts over), as write does. */
  async writeFile(h: Handle, localPath: string, opts: WriteOptions = {}): Promise<void> {
    const fh = await fs.open(localPath, 'r');
    try {
      const size = (await fh.stat()).size;
      await this.upload(
        h,
        size,
        async (off, len) => {
          const buf = Buffer.allocUnsafe(len);
          let got = 0;
          while (got < len) {
            const { bytesRead } = await fh.read(buf, got, len - got, off + got);
            if (bytesRead === 0) throw new CairnError('short-read', `the staged file ${localPath} ended early`, 'Something changed cairn\'s temporary file while it was storing it; run the backup again.');
            got += bytesRead;
          }
          return buf;
        },
        opts,
      );
    } finally {
      await fh.close();
    }
  }

  /** Uploads `size` bytes, got piece by piece from `piece`, under a temporary name, then renames. */
  private async upload(h: Handle, size: number, piece: (off: number, len: number) => Promise<Buffer>, opts: WriteOptions): Promise<void> {
    const file = handlePath(h);
    const final = this.remotePath(h);
    const dir = path.posix.dirname(final);
    const tmp = path.posix.join(dir, `.tmp-${path.posix.basename(final)}-${randomBytes(6).toString('hex')}`);
    await this.call(h, `write ${file}`, async (s) => {
      const open = (): Promise<Buffer> => s.req<Buffer>((cb) => s.sftp.open(tmp, 'wx', { mode: 0o600 }, cb));
      let handle: Buffer;
      try {
        handle = await open();
      } catch (err) {
        if ((err as { code?: unknown }).code !== SFTP_NO_SUCH_FILE || this.createdDirs.has(dir)) throw err;
        await mkdirp(s, dir);
        this.createdDirs.add(dir);
        handle = await open();
      }
      let closed = false;
      try {
        let sent = 0;
        await forEachLimited(chunks(size), transferConcurrency, async ([off, len]) => {
          opts.signal?.throwIfAborted();
          const data = await piece(off, len);
          await s.req<void>((cb) => s.sftp.write(handle, data, 0, len, off, cb));
          sent += len;
          opts.onProgress?.(sent);
        });
        opts.signal?.throwIfAborted();
        if (s.fsync) await s.req<void>((cb) => s.sftp.ext_openssh_fsync(handle, cb));
        await s.req<void>((cb) => s.sftp.fchmod(handle, 0o400, cb)).catch(() => {});
        await s.req<void>((cb) => s.sftp.close(handle, cb));
        closed = true;
        opts.signal?.throwIfAborted();
        await this.rename(s, tmp, final, size);
      } catch (err) {
        if (!closed) await s.req<void>((cb) => s.sftp.close(handle, cb)).catch(() => {});
        await s.req<void>((cb) => s.sftp.unlink(tmp, cb)).catch(() => {});
        throw err;
      }
    });
  }

  private async rename(s: Session, tmp: string, final: string, size: number): Promise<void> {
    if (s.posixRename) {
      await s.req<void>((cb) => s.sftp.ext_openssh_rename(tmp, final, cb));
      return;
    }
    try {
      await s.req<void>((cb) => s.sftp.rename(tmp, final, cb));
    } catch (err) {
      // Plain SFTP rename refuses to replace; names are content hashes, so an existing complete file is the same file.
      const st = await s.req<Stats>((cb) => s.sftp.stat(final, cb)).catch(() => undefined);
      if (st === undefined || st.size !== size) throw err;
      await s.req<void>((cb) => s.sftp.unlink(tmp, cb)).catch(() => {});
    }
  }

  async remove(h: Handle): Promise<void> {
    try {
      await this.call(h, `remove ${handlePath(h)}`, (s) => s.req<void>((cb) => s.sftp.unlink(this.remotePath(h), cb)));
    } catch (err) {
      if (err instanceof CairnError && (err.code === 'not-found' || err.code === 'no-repository')) return;
      throw err;
    }
  }

  async *list(type: FileType): AsyncIterable<FileInfo> {
    if (type === 'config') {
      const h: Handle = { type, name: 'config' };
      if (await this.exists(h)) yield await this.stat(h);
      return;
    }
    const folder = path.posix.join(this.root, typeFolders[type]);
    const what = `list ${typeFolders[type]}/`;
    let dirs = [folder];
    if (type === 'pack') {
      const shards = await this.call(undefined, what, (s) => readdirOrEmpty(s, folder));
      dirs = shards.filter((e) => /^[0-9a-f]{2}$/.test(e.filename) && e.attrs.isDirectory()).map((e) => path.posix.join(folder, e.filename)).sort();
    }
    // Read a few folders ahead so a long listing is not one round trip per shard.
    const pending: Promise<FileEntryLike[]>[] = [];
    let next = 0;
    const fill = (): void => {
      while (pending.length < listConcurrency && next < dirs.length) {
        const d = dirs[next++]!;
        const p = this.call(undefined, what, (s) => readdirOrEmpty(s, d));
        p.catch(() => {});
        pending.push(p);
      }
    };
    fill();
    while (pending.length > 0) {
      const entries = await pending.shift()!;
      fill();
      for (const e of entries) {
        if (!isStorageId(e.filename) || !e.attrs.isFile()) continue;
        if (type === 'lock' && e.attrs.size === 0) continue;
        yield { name: e.filename, size: e.attrs.size };
      }
    }
  }

  async close(): Promise<void> {
    const p = this.session;
    this.session = undefined;
    if (!p) return;
    const s = await p.catch(() => undefined);
    if (!s) return;
    await new Promise<void>((resolve) => {
      s.client.once('close', () => resolve());
      s.client.end();
      setTimeout(resolve, 2000).unref();
    });
  }
}

// ---- SFTP helpers ----

type FileEntryLike = { filename: string; attrs: Stats };

/** [offset, length] pieces of a transfer of `total` bytes. */
function chunks(total: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (let off = 0; off < total; off += chunkSize) out.push([off, Math.min(chunkSize, total - off)]);
  return out;
}

/** Runs fn over items with at most `limit` in flight; stops issuing new work after the first failure. */
async function forEachLimited<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failed: { err: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (next < items.length && !failed) {
      const item = items[next++]!;
      try {
        await fn(item);
      } catch (err) {
        failed ??= { err };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failed) throw failed.err;
}

async function readdirOrEmpty(s: Session, dir: string): Promise<FileEntryLike[]> {
  try {
    return await s.req<FileEntryLike[]>((cb) => s.sftp.readdir(dir, cb));
  } catch (err) {
    if ((err as { code?: unknown }).code === SFTP_NO_SUCH_FILE) return [];
    throw err;
  }
}

async function mkdirIfMissing(s: Session, dir: string): Promise<void> {
  try {
    await s.req<void>((cb) => s.sftp.mkdir(dir, { mode: 0o700 }, cb));
  } catch (err) {
    // OpenSSH answers a generic failure when the folder exists; tell that apart from a real problem.
    const st = await s.req<Stats>((cb) => s.sftp.stat(dir, cb)).catch(() => undefined);
    if (st?.isDirectory()) return;
    throw err;
  }
}

async function mkdirp(s: Session, dir: string): Promise<void> {
  const parts = dir.split('/');
  for (let i = 1; i <= parts.length; i++) {
    const p = parts.slice(0, i).join('/');
    if (p === '' || p === '.' || p === '~') continue;
    await mkdirIfMissing(s, p);
  }
}

// ---- known_hosts ----

/** One usable line of a known_hosts file. */
interface KnownHostEntry {
  file: string;
  line: number;
  revoked: boolean;
  keyType: string;
  key: Buffer;
  matches(name: string): boolean;
}

/** The name OpenSSH files a host under: "host" on port 22, "[host]:port" otherwise. */
function knownHostsName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

/** SHA256 fingerprint as OpenSSH prints it. */
export function fingerprint(key: Buffer): string {
  return `SHA256:${createHash('sha256').update(key).digest('base64').replace(/=+$/, '')}`;
}

function sshString(buf: Buffer, at: number): Buffer | undefined {
  if (buf.length < at + 4) return undefined;
  const len = buf.readUInt32BE(at);
  if (buf.length < at + 4 + len) return undefined;
  return buf.subarray(at + 4, at + 4 + len);
}

function globToRegExp(pattern: string): RegExp {
  const re = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${re}$`, 'i');
}

/** Whether a known_hosts host field (patterns, negations, or a |1| hash) covers `name`. */
function hostFieldMatches(field: string, name: string): boolean {
  if (field.startsWith('|1|')) {
    const [, , salt, hash] = field.split('|');
    if (!salt || !hash) return false;
    const mac = createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest();
    const want = Buffer.from(hash, 'base64');
    return mac.length === want.length && timingSafeEqual(mac, want);
  }
  let matched = false;
  for (const pat of field.split(',')) {
    if (pat.startsWith('!')) {
      if (globToRegExp(pat.slice(1)).test(name)) return false;
    } else if (globToRegExp(pat).test(name)) matched = true;
  }
  return matched;
}

async function loadKnownHosts(files: string[]): Promise<KnownHostEntry[]> {
  const out: KnownHostEntry[] = [];
  for (const file of files) {
    let text: string;
    try {
      text = await fs.readFile(file, 'utf8');
    } catch (err) {
      if (isErrno(err, 'ENOENT')) continue;
      throw new CairnError('known-hosts-unreadable', `cannot read ${file}: ${describeError(err)}`, 'Check the permissions of the known_hosts file.');
    }
    text.split('\n').forEach((raw, i) => {
      const fields = raw.trim().split(/\s+/);
      if (fields[0] === undefined || fields[0] === '' || fields[0].startsWith('#')) return;
      let revoked = false;
      if (fields[0].startsWith('@')) {
        // Certificate authorities are not supported; revoked keys are honoured.
        if (fields[0] !== '@revoked') return;
        revoked = true;
        fields.shift();
      }
      const [hosts, keyType, b64] = fields;
      if (!hosts || !keyType || !b64) return;
      const key = Buffer.from(b64, 'base64');
      out.push({ file, line: i + 1, revoked, keyType, key, matches: (name) => hostFieldMatches(hosts, name) });
    });
  }
  return out;
}

const allHostKeyAlgorithms: ServerHostKeyAlgorithm[] = ['ssh-ed25519', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521', 'rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'];

/** Host key algorithms with those matching already-known key types first. */
function preferredHostKeyAlgorithms(knownTypes: string[]): ServerHostKeyAlgorithm[] {
  const first = allHostKeyAlgorithms.filter((a) => knownTypes.some((t) => t === a || (t === 'ssh-rsa' && a.startsWith('rsa-sha2-'))));
  return [...first, ...allHostKeyAlgorithms.filter((a) => !first.includes(a))];
}
