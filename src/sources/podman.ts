import { createReadStream, promises as fs, constants as fsConstants } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { CairnError, describeError, isErrno } from '../errors.js';
import { processStdout, programNotStartedError, runProcess, type ProcessFailure } from './processStream.js';
import {
  servicesForVolumes,
  systemdDaemonReload,
  systemdIsRunning,
  SystemdUnitService,
  withServicesStopped,
  PodmanContainerService,
  type PodmanContainerControl,
  type StoppableService,
  type VolumeContainer,
} from './podmanServices.js';
import { formatQuadletProblem, loadQuadlets, unitsUsingVolume, type QuadletSet } from './quadlet.js';
import { emptyDirectory, jsonItem, lstatOrUndefined, readAll, slug, treeSize, uniqueName, writeFileAtomically } from './itemFiles.js';
import type { Source, SourceItem, SourceMetadata, SourceRestoreOptions, StoredContent } from './source.js';

/** How to run podman: the program and the storage it works on (tests point it at a throwaway one). */
export interface PodmanClientOptions {
  /** The podman program; default "podman" on PATH. */
  binary?: string;
  /** `--root`: the storage root (images, containers, volumes). */
  root?: string;
  /** `--runroot`: the state directory. */
  runroot?: string;
  /** `--tmpdir`: libpod's runtime directory. */
  tmpdir?: string;
  /** `--storage-driver`. */
  storageDriver?: string;
  /** CONTAINERS_CONF: a containers.conf to use instead of the system's. */
  containersConf?: string;
  /** Seconds `podman stop` waits before it kills; default 10 (podman's own default). */
  stopTimeoutSeconds?: number;
}

/** A volume as `podman volume inspect` describes it. */
export interface PodmanVolumeInfo {
  name: string;
  driver: string;
  mountpoint: string;
  labels: Record<string, string>;
  options: Record<string, string>;
}

/** What a volume is created with. */
export interface PodmanVolumeSpec {
  name: string;
  driver?: string;
  labels?: Record<string, string>;
  options?: Record<string, string>;
}

/** A container as cairn records it: enough to name its image and to create it again. */
export interface PodmanContainerInfo extends VolumeContainer {
  image: string;
  imageId: string;
  running: boolean;
  /** The command line that created it (podman records it), when known. */
  createCommand?: string[];
  /** Named volumes it mounts. */
  volumes: string[];
}

/** An image and its digests. */
export interface PodmanImageInfo {
  id: string;
  digest?: string;
  repoDigests: string[];
}

/** A failed podman command: a CairnError that also carries the exit status. */
class PodmanCommandError extends CairnError {
  constructor(
    readonly failure: ProcessFailure,
    code: string,
    message: string,
    remedy: string,
  ) {
    super(code, message, remedy);
  }
}

type Json = Record<string, unknown>;

function record(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (typeof v === 'object' && v !== null) for (const [k, x] of Object.entries(v)) if (typeof x === 'string') out[k] = x;
  return out;
}

/** A thin wrapper over the podman CLI: JSON out, clear errors, storage flags applied to every call. */
export class PodmanClient implements PodmanContainerControl {
  readonly binary: string;

  constructor(readonly options: PodmanClientOptions = {}) {
    this.binary = options.binary ?? 'podman';
  }

  /** The global flags every podman call gets (storage location, driver). */
  globalArgs(): string[] {
    const o = this.options;
    const args: string[] = [];
    if (o.root) args.push('--root', o.root);
    if (o.runroot) args.push('--runroot', o.runroot);
    if (o.tmpdir) args.push('--tmpdir', o.tmpdir);
    if (o.storageDriver) args.push('--storage-driver', o.storageDriver);
    return args;
  }

  private env(): Record<string, string | undefined> {
    return this.options.containersConf ? { CONTAINERS_CONF: this.options.containersConf } : {};
  }

  private failure(args: readonly string[], f: ProcessFailure): CairnError {
    if (f.spawnError) return programNotStartedError(f);
    const what = `podman ${args.slice(0, 4).join(' ')}`;
    const detail = f.stderrTail.replace(/^Error: /, '') || (f.signal ? `killed by ${f.signal}` : `exit code ${f.exitCode}`);
    if (/permission denied|operation not permitted/i.test(f.stderrTail)) {
      return new PodmanCommandError(f, 'podman-permission', `${what} failed: ${detail}`, 'run cairn as the user that owns the containers: root for /etc/containers/systemd, the user for ~/.config/containers/systemd');
    }
    return new PodmanCommandError(f, 'podman-failed', `${what} failed: ${detail}`, `run "${this.binary} ${args.join(' ')}" by hand to see the whole output`);
  }

  /** Runs podman with the global flags; resolves with stdout. */
  async run(args: readonly string[], stdin?: Readable | string): Promise<string> {
    const { stdout } = await runProcess(this.binary, [...this.globalArgs(), ...args], { env: this.env(), stdin, onFailure: (f) => this.failure(args, f) });
    return stdout;
  }

  /** Runs podman and parses its JSON output. */
  async json<T>(args: readonly string[]): Promise<T> {
    const out = await this.run(args);
    try {
      return JSON.parse(out.trim() || 'null') as T;
    } catch (err) {
      throw new CairnError('podman-output', `podman ${args.slice(0, 3).join(' ')} printed something that is not JSON: ${describeError(err)}`, 'check the podman version (cairn needs podman 4 or later)');
    }
  }

  /** True when podman exits 0, false when it exits 1 (the "does not exist" answer of `exists` commands). */
  private async succeeds(args: readonly string[]): Promise<boolean> {
    try {
      await this.run(args);
      return true;
    } catch (err) {
      if (err instanceof PodmanCommandError && err.failure.exitCode === 1) return false;
      throw err;
    }
  }

  /** `podman <kind> inspect NAME` as JSON; undefined when podman answers "no such <kind>". */
  private async inspect(kind: 'volume' | 'container' | 'image', name: string): Promise<Json | undefined> {
    try {
      const [first] = await this.json<Json[]>([kind, 'inspect', '--format', 'json', name]);
      return first;
    } catch (err) {
      if (err instanceof PodmanCommandError && /no such|not known|image not known/i.test(err.failure.stderrTail)) return undefined;
      throw err;
    }
  }

  /** True when the volume exists. */
  volumeExists(name: string): Promise<boolean> {
    return this.succeeds(['volume', 'exists', name]);
  }

  /** The volume's driver, mountpoint, labels and options; undefined when it does not exist. */
  async volumeInspect(name: string): Promise<PodmanVolumeInfo | undefined> {
    const v = await this.inspect('volume', name);
    if (!v) return undefined;
    return { name: String(v.Name), driver: String(v.Driver ?? 'local'), mountpoint: String(v.Mountpoint ?? ''), labels: record(v.Labels), options: record(v.Options) };
  }

  /** `podman volume create` with driver, labels and options. */
  async volumeCreate(spec: PodmanVolumeSpec): Promise<void> {
    const args = ['volume', 'create'];
    if (spec.driver) args.push('--driver', spec.driver);
    for (const [k, v] of Object.entries(spec.labels ?? {})) args.push('--label', `${k}=${v}`);
    const options = { ...(spec.options ?? {}) };
    // podman reports the uid/gid of an `o=uid=...,gid=...` option as extra UID/GID options; `o` alone recreates them.
    if ('o' in options) {
      delete options.UID;
      delete options.GID;
    }
    for (const [k, v] of Object.entries(options)) args.push('--opt', `${k}=${v}`);
    args.push(spec.name);
    await this.run(args);
  }

  /** `podman volume rm`. */
  async volumeRemove(name: string, force = false): Promise<void> {
    await this.run(['volume', 'rm', ...(force ? ['--force'] : []), name]);
  }

  /** The volume's contents as a tar stream (`podman volume export`). */
  volumeExport(name: string): Readable {
    // podman 4 opens "/dev/stdout" by name, which fails (ENXIO) on the socket node gives a child as
    // stdout; through a real pipe to cat it works. pipefail keeps podman's exit status.
    return processStdout('bash', ['-c', 'set -o pipefail; "$@" | cat', 'bash', this.binary, ...this.globalArgs(), 'volume', 'export', name], {
      env: this.env(),
      onFailure: (f) => this.failure(['volume', 'export', name], { ...f, program: this.binary }),
    });
  }

  /** Extracts a tar stream into the volume (`podman volume import NAME -`). */
  async volumeImport(name: string, tar: Readable): Promise<void> {
    await this.run(['volume', 'import', name, '-'], tar);
  }

  /** Containers in any state that mount the named volume. */
  async containersUsingVolume(volume: string): Promise<VolumeContainer[]> {
    const list = (await this.json<Json[] | null>(['ps', '--all', '--filter', `volume=${volume}`, '--format', 'json'])) ?? [];
    return list.map((c) => {
      const labels = record(c.Labels);
      const names = Array.isArray(c.Names) ? (c.Names as string[]) : [];
      return { id: String(c.Id), name: names[0] ?? String(c.Id).slice(0, 12), ...(labels.PODMAN_SYSTEMD_UNIT ? { systemdUnit: labels.PODMAN_SYSTEMD_UNIT } : {}) };
    });
  }

  /** A container's image, state, create command and volumes; undefined when it does not exist. */
  async containerInspect(idOrName: string): Promise<PodmanContainerInfo | undefined> {
    const c = await this.inspect('container', idOrName);
    if (!c) return undefined;
    const config = (c.Config ?? {}) as Json;
    const state = (c.State ?? {}) as Json;
    const labels = record(config.Labels);
    const mounts = Array.isArray(c.Mounts) ? (c.Mounts as Json[]) : [];
    const info: PodmanContainerInfo = {
      id: String(c.Id),
      name: String(c.Name),
      image: String(c.ImageName ?? config.Image ?? ''),
      imageId: String(c.Image ?? ''),
      running: state.Running === true,
      volumes: mounts.filter((m) => m.Type === 'volume' && typeof m.Name === 'string').map((m) => String(m.Name)),
    };
    if (Array.isArray(config.CreateCommand) && config.CreateCommand.length > 0) info.createCommand = (config.CreateCommand as unknown[]).map(String);
    if (labels.PODMAN_SYSTEMD_UNIT) info.systemdUnit = labels.PODMAN_SYSTEMD_UNIT;
    return info;
  }

  /** Whether the container runs now (false when it does not exist). */
  async containerRunning(id: string): Promise<boolean> {
    return (await this.containerInspect(id))?.running ?? false;
  }

  /** `podman stop -t SECONDS`. */
  async stopContainer(id: string): Promise<void> {
    await this.run(['stop', '--time', String(this.options.stopTimeoutSeconds ?? 10), id]);
  }

  /** `podman start`. */
  async startContainer(id: string): Promise<void> {
    await this.run(['start', id]);
  }

  /** `podman rm --force` (stops it first, waiting up to the stop timeout). */
  async removeContainer(id: string): Promise<void> {
    await this.run(['rm', '--force', '--time', String(this.options.stopTimeoutSeconds ?? 10), id]);
  }

  /** An image's id and digests; undefined when it is gone. */
  async imageInspect(id: string): Promise<PodmanImageInfo | undefined> {
    const i = await this.inspect('image', id);
    if (!i) return undefined;
    return { id: String(i.Id), ...(typeof i.Digest === 'string' ? { digest: i.Digest } : {}), repoDigests: Array.isArray(i.RepoDigests) ? (i.RepoDigests as unknown[]).map(String) : [] };
  }

  /**
   * Creates a container again from the command line podman recorded for it
   * (`podman [global flags] run -d ...`), turned into `create` so that it is
   * not started (the caller starts it if it ran at backup time).
   */
  async recreate(createCommand: readonly string[]): Promise<void> {
    const args = createCommandAsCreate(createCommand);
    await runProcess(this.binary, args, { env: this.env(), onFailure: (f) => this.failure(args, f) });
  }
}

// podman's global flags that take a value (the rest are booleans).
const globalFlagsWithValue = new Set([
  '--root', '--runroot', '--tmpdir', '--storage-driver', '--storage-opt', '--cgroup-manager', '--conmon', '--events-backend', '--hooks-dir',
  '--identity', '--imagestore', '--log-level', '--network-cmd-path', '--network-config-dir', '--module', '--runtime', '--runtime-flag',
  '--ssh', '--url', '--connection', '-c', '--volumepath', '--db-backend', '--registries-conf', '--config',
]);

/**
 * Turns a recorded `podman ... run [-d] ...` into `... create ...` (arguments
 * after the program name), dropping the detach flag that create refuses.
 */
export function createCommandAsCreate(command: readonly string[]): string[] {
  const args = command.slice(1);
  let i = 0;
  while (i < args.length && args[i]!.startsWith('-')) {
    const a = args[i]!;
    i += !a.includes('=') && globalFlagsWithValue.has(a) ? 2 : 1;
  }
  if (args[i] === 'container') i++;
  const sub = args[i];
  if (sub !== 'run' && sub !== 'create') {
    throw new CairnError('podman-create-command', `cannot recreate a container from "${command.join(' ')}" (neither run nor create)`, 'create the container again by hand, or start it through its systemd unit');
  }
  const rest = args.slice(i + 1);
  if (sub === 'run') {
    // The detach flag comes before the image, so its first appearance is the one to drop
    // (a later "-d" may be an argument of the container's own command).
    const at = rest.findIndex((a) => a === '-d' || a === '--detach' || a.startsWith('--detach=') || (/^-[ditP]+$/.test(a) && a.includes('d')));
    if (at >= 0) {
      const bundle = rest[at]!;
      const kept = /^-[ditP]+$/.test(bundle) ? bundle.replace(/d/g, '') : '-';
      if (kept === '-') rest.splice(at, 1);
      else rest[at] = kept;
    }
  }
  return [...args.slice(0, i), 'create', ...rest];
}

/** What `volumes.json` holds for one backed-up volume. */
export interface StoredVolume {
  name: string;
  driver: string;
  labels: Record<string, string>;
  options: Record<string, string>;
  /** The item the data is stored as: `volume-NAME` (a tree) or `volume-NAME.tar` (podman volume export). */
  item: string;
  storedAs: 'tree' | 'tar';
  /** Mode, owner and group of the volume's top directory, when it could be read. */
  root?: { mode: number; uid: number; gid: number };
}

/** A stored file or directory outside volumes (quadlet units, bind-mounted host paths). */
export interface StoredPath {
  path: string;
  item: string;
  kind: 'dir' | 'file';
  /** Permission bits of a file (a stored stream carries none), so a restored .env stays private. */
  mode?: number;
}

/** The `volumes.json` item: what a restore needs to put everything back. */
export interface PodmanManifest {
  version: 1;
  units: StoredPath[];
  volumes: StoredVolume[];
  /** Volumes the quadlets or the config name that did not exist at backup time. */
  missingVolumes: string[];
  bindMounts: StoredPath[];
  /** systemd services of the quadlets and whether they were active. */
  services: { unit: string; active: boolean }[];
  /** Quadlet problems (file:line: message). */
  problems: string[];
}

/** A container of the `containers.json` item. */
export interface StoredContainer extends PodmanContainerInfo {
  imageDigest?: string;
}

/** What a teardown did and what it could not find. */
export interface PodmanTeardownReport {
  stoppedUnits: string[];
  removedContainers: string[];
  removedVolumes: string[];
  removedFiles: string[];
  /** Volumes, unit files and paths that were already gone (reported, not fatal). */
  missing: string[];
}

/** Options of a {@link PodmanSource}. */
export interface PodmanSourceOptions {
  /** The source's name inside its component; default "podman". */
  name?: string;
  /** Quadlet directories (`~/.config/containers/systemd`, `/etc/containers/systemd`) or unit files. */
  quadlets?: string[];
  /** More named volumes to back up (besides those the quadlets use). */
  volumes?: string[];
  /** Bind-mounted host paths of the quadlets: left out (default) or backed up and restored like volumes. */
  bindMounts?: 'ignore' | 'include';
  /** Volume data from the mountpoint as a file tree ("mountpoint"), through `podman volume export` ("export"), or the first when reachable ("auto", default). */
  volumeData?: 'auto' | 'mountpoint' | 'export';
  /** Use systemctl for quadlet services; default: when systemd is PID 1. */
  systemd?: boolean;
  /** systemctl --user; default: when not running as root. */
  userServices?: boolean;
  /** What %h means in unit files; default the current home directory. */
  home?: string;
  /** How to run podman. */
  podman?: PodmanClientOptions;
  /** Called with things worth telling the user that do not stop the work (missing volumes, quadlet problems). */
  onWarning?: (message: string) => void;
}

const manifestItem = 'volumes.json';
const containersItem = 'containers.json';

interface Inventory {
  quadlets?: QuadletSet;
  manifest: PodmanManifest;
  /** Live volumes with their mountpoints, for the items. */
  volumeInfos: Map<string, PodmanVolumeInfo>;
  containers: StoredContainer[];
}

/**
 * Podman deployments: quadlet unit files and the named volumes they use (or
 * that the config names). Items: the unit files (`units`, a tree), each
 * volume (`volume-NAME`, a tree at its mountpoint so unchanged files are
 * skipped, or `volume-NAME.tar` from `podman volume export`), optionally the
 * bind-mounted host paths, and `volumes.json`/`containers.json` with what a
 * restore needs to recreate volumes (driver, labels, options) and containers.
 * `quiesce(fn)` stops the services writing to the volumes around `fn`.
 */
export class PodmanSource implements Source {
  readonly name: string;
  readonly kind = 'podman';
  readonly client: PodmanClient;
  private readonly options: PodmanSourceOptions;
  /** Services stopped by the running quiesce(): they count as running in what is recorded. */
  private readonly quiesced = new Set<string>();

  constructor(options: PodmanSourceOptions) {
    this.name = options.name ?? 'podman';
    if (!options.quadlets?.length && !options.volumes?.length) {
      throw new CairnError('podman-config', `podman source "${this.name}" names no quadlets and no volumes`, 'set "quadlets" (a quadlet directory or unit files) or "volumes" in the source options');
    }
    this.options = options;
    this.client = new PodmanClient(options.podman);
  }

  private get systemd(): boolean {
    return this.options.systemd ?? systemdIsRunning();
  }

  private get user(): boolean {
    return this.options.userServices ?? (typeof process.getuid === 'function' && process.getuid() !== 0);
  }

  private warn(message: string): void {
    this.options.onWarning?.(`podman source "${this.name}": ${message}`);
  }

  private async quadlets(): Promise<QuadletSet | undefined> {
    if (!this.options.quadlets?.length) return undefined;
    return loadQuadlets(this.options.quadlets, { home: this.options.home });
  }

  /** Every volume the quadlets use or define plus the configured ones, sorted. */
  private volumeNames(set: QuadletSet | undefined): string[] {
    return [...new Set([...(set?.volumes.map((v) => v.name) ?? []), ...(this.options.volumes ?? [])])].sort();
  }

  /** The systemd services of the quadlet units that mount one of `volumes`. */
  private quadletServices(set: QuadletSet | undefined, volumes: readonly string[]): string[] {
    if (!set) return [];
    const services = new Set<string>();
    for (const v of volumes) for (const u of unitsUsingVolume(set, v)) services.add(u.service);
    return [...services];
  }

  private async reachable(info: PodmanVolumeInfo): Promise<boolean> {
    if (info.driver !== 'local' || 'device' in info.options || !info.mountpoint) return false;
    try {
      await fs.access(info.mountpoint, fsConstants.R_OK | fsConstants.X_OK);
      return (await fs.stat(info.mountpoint)).isDirectory();
    } catch {
      return false;
    }
  }

  /** Reads quadlets, volumes and containers once for items() and metadata(). */
  private async inventory(): Promise<Inventory> {
    const set = await this.quadlets();
    const taken = new Set<string>([manifestItem, containersItem]);
    const manifest: PodmanManifest = { version: 1, units: [], volumes: [], missingVolumes: [], bindMounts: [], services: [], problems: [] };
    if (set) {
      manifest.problems = set.problems.map(formatQuadletProblem);
      for (const p of manifest.problems) this.warn(p);
      const paths = this.options.quadlets!.map((p) => path.resolve(p));
      const dirs: string[] = [];
      for (const p of paths) {
        const st = await lstatOrUndefined(p);
        if (!st) {
          this.warn(`${p} does not exist`);
          continue;
        }
        if (st.isDirectory()) dirs.push(p);
        else manifest.units.push({ path: p, item: uniqueName(`unit-${path.basename(p)}`, taken), kind: 'file', mode: st.mode & 0o7777 });
      }
      for (const d of dirs) manifest.units.push({ path: d, item: uniqueName(dirs.length === 1 ? 'units' : `units-${slug(d)}`, taken), kind: 'dir' });
      if (this.systemd) {
        for (const u of set.units) {
          if (u.kind !== 'container' && u.kind !== 'kube' && u.kind !== 'pod') continue;
          const svc = new SystemdUnitService(u.service, this.user);
          manifest.services.push({ unit: u.service, active: this.quiesced.has(`unit:${u.service}`) || (await svc.isRunning()) });
        }
      }
    }
    const volumeInfos = new Map<string, PodmanVolumeInfo>();
    const containerIds = new Set<string>();
    for (const name of this.volumeNames(set)) {
      const info = await this.client.volumeInspect(name);
      if (!info) {
        manifest.missingVolumes.push(name);
        this.warn(`volume ${name} does not exist (not backed up)`);
        continue;
      }
      volumeInfos.set(name, info);
      const mode = this.options.volumeData ?? 'auto';
      const tree = mode !== 'export' && (await this.reachable(info));
      if (mode === 'mountpoint' && !tree) {
        throw new CairnError('podman-volume-unreachable', `the mountpoint of volume ${name} (${info.mountpoint || 'none'}) cannot be read as a directory`, 'run cairn as the user owning the volume, or set volumeData to "export"');
      }
      const v: StoredVolume = { name, driver: info.driver, labels: info.labels, options: info.options, item: uniqueName(tree ? `volume-${name}` : `volume-${name}.tar`, taken), storedAs: tree ? 'tree' : 'tar' };
      const st = info.mountpoint ? await lstatOrUndefined(info.mountpoint).catch(() => undefined) : undefined;
      if (st) v.root = { mode: st.mode & 0o7777, uid: st.uid, gid: st.gid };
      manifest.volumes.push(v);
      for (const c of await this.client.containersUsingVolume(name)) containerIds.add(c.id);
    }
    if (set && this.options.bindMounts === 'include') {
      for (const hostPath of [...new Set(set.bindMounts.map((b) => b.hostPath))].sort()) {
        const st = await lstatOrUndefined(hostPath);
        if (!st) {
          this.warn(`bind-mounted ${hostPath} does not exist (not backed up)`);
          continue;
        }
        const kind = st.isDirectory() ? 'dir' : 'file';
        manifest.bindMounts.push({ path: hostPath, item: uniqueName(`bind-${slug(hostPath)}`, taken), kind, ...(kind === 'file' ? { mode: st.mode & 0o7777 } : {}) });
      }
    }
    const containers: StoredContainer[] = [];
    const digests = new Map<string, string | undefined>();
    for (const id of containerIds) {
      const c = await this.client.containerInspect(id);
      if (!c) continue;
      const stored: StoredContainer = { ...c, running: c.running || this.quiesced.has(`container:${c.id}`) };
      if (!digests.has(c.imageId)) digests.set(c.imageId, (await this.client.imageInspect(c.imageId))?.digest);
      const digest = digests.get(c.imageId);
      if (digest) stored.imageDigest = digest;
      containers.push(stored);
    }
    containers.sort((a, b) => a.name.localeCompare(b.name));
    return { quadlets: set, manifest, volumeInfos, containers };
  }

  /** Unit files, volume data (trees or export streams), bind mounts if asked, volumes.json and containers.json. */
  async items(): Promise<SourceItem[]> {
    const inv = await this.inventory();
    const items: SourceItem[] = [];
    for (const u of inv.manifest.units) items.push(await this.pathItem(u));
    for (const v of inv.manifest.volumes) {
      if (v.storedAs === 'tree') items.push({ type: 'tree', name: v.item, path: inv.volumeInfos.get(v.name)!.mountpoint });
      else items.push({ type: 'stream', name: v.item, open: async () => this.client.volumeExport(v.name), mode: 0o600 });
    }
    for (const b of inv.manifest.bindMounts) items.push(await this.pathItem(b));
    items.push(jsonItem(manifestItem, inv.manifest), jsonItem(containersItem, inv.containers));
    return items;
  }

  private async pathItem(p: StoredPath): Promise<SourceItem> {
    if (p.kind === 'dir') return { type: 'tree', name: p.item, path: p.path };
    const st = await fs.stat(p.path);
    return { type: 'stream', name: p.item, open: async () => createReadStream(p.path), mode: st.mode & 0o7777, mtime: st.mtime };
  }

  /**
   * Runs `fn` with the services that write to the volumes stopped (systemctl
   * for quadlet units systemd knows, podman stop for other containers) and
   * starts them again afterwards, also when `fn` fails.
   */
  async quiesce<T>(fn: () => Promise<T>): Promise<T> {
    const services = await this.services();
    const key = (s: StoppableService): string => (s instanceof SystemdUnitService ? `unit:${s.unit}` : s instanceof PodmanContainerService ? `container:${s.id}` : s.description);
    try {
      return await withServicesStopped(services, fn, {
        onStopped: (s) => this.quiesced.add(key(s)),
        onStarted: (s) => this.quiesced.delete(key(s)),
      });
    } finally {
      this.quiesced.clear();
    }
  }

  /** The services quiesce() stops, in stop order. */
  async services(): Promise<StoppableService[]> {
    const set = await this.quadlets();
    const volumes = this.volumeNames(set);
    return servicesForVolumes(this.client, volumes, { systemd: this.systemd, user: this.user, quadletServices: this.quadletServices(set, volumes) });
  }

  /**
   * With `to`: every stored item is written under that directory (trees as
   * folders, streams as files: `volume-NAME.tar` can be fed to `podman volume
   * import`), nothing live is touched. Without: unit files back in place,
   * volumes created again when missing (original driver, labels, options) and
   * filled (emptied first), bind-mounted paths back, then systemd reloaded and
   * services that were active started, or containers that are gone created
   * again from their recorded command and started if they ran.
   */
  async restore(content: StoredContent, options: SourceRestoreOptions): Promise<void> {
    const names = new Set(await content.names());
    if (!names.has(manifestItem)) {
      throw new CairnError('podman-nothing-stored', `the backup has no ${manifestItem} for source "${this.name}" (it holds: ${[...names].join(', ') || 'nothing'})`, 'pick a snapshot made with a podman source');
    }
    const manifest = JSON.parse(await readAll(await content.openStream(manifestItem))) as PodmanManifest;
    const containers = names.has(containersItem) ? (JSON.parse(await readAll(await content.openStream(containersItem))) as StoredContainer[]) : [];
    if (options.to !== undefined) {
      await this.restoreInto(path.resolve(options.to), content, names, manifest);
      return;
    }
    for (const u of manifest.units) await this.restorePath(content, names, u, u.path);
    for (const v of manifest.volumes) await this.restoreVolume(content, names, v);
    for (const b of manifest.bindMounts) await this.restorePath(content, names, b, b.path);
    await this.bringBack(manifest, containers);
  }

  private async restoreInto(to: string, content: StoredContent, names: Set<string>, manifest: PodmanManifest): Promise<void> {
    await fs.mkdir(to, { recursive: true });
    const trees = new Set([...manifest.units, ...manifest.bindMounts].filter((p) => p.kind === 'dir').map((p) => p.item));
    for (const v of manifest.volumes) if (v.storedAs === 'tree') trees.add(v.item);
    for (const name of names) {
      const target = path.join(to, name);
      if (trees.has(name)) {
        await fs.mkdir(target, { recursive: true });
        await content.restoreTree(name, target);
      } else {
        await writeFileAtomically(await content.openStream(name), target);
      }
    }
  }

  private async restorePath(content: StoredContent, names: Set<string>, p: StoredPath, target: string): Promise<void> {
    if (!names.has(p.item)) throw new CairnError('podman-item-missing', `the backup lists ${p.item} (${p.path}) but does not hold it`, 'restore from another snapshot');
    try {
      if (p.kind === 'dir') {
        await fs.mkdir(target, { recursive: true });
        await content.restoreTree(p.item, target);
      } else {
        await writeFileAtomically(await content.openStream(p.item), target, p.mode ?? 0o600);
      }
    } catch (err) {
      if (err instanceof CairnError) throw err;
      throw new CairnError('podman-restore-failed', `restoring ${p.item} to ${target} failed: ${describeError(err)}`, 'check free space and permissions there', undefined, { cause: err });
    }
  }

  /** Creates the volume when missing, empties it, and fills it from the stored tree or tar. */
  private async restoreVolume(content: StoredContent, names: Set<string>, v: StoredVolume): Promise<void> {
    if (!names.has(v.item)) throw new CairnError('podman-item-missing', `the backup lists volume ${v.name} but does not hold ${v.item}`, 'restore from another snapshot');
    let info = await this.client.volumeInspect(v.name);
    if (info && v.storedAs === 'tar' && (await this.client.containersUsingVolume(v.name)).length === 0) {
      // No container holds it: start from an empty volume, so files deleted since the backup do not linger.
      await this.client.volumeRemove(v.name);
      info = undefined;
    }
    if (!info) {
      await this.client.volumeCreate({ name: v.name, driver: v.driver, labels: v.labels, options: v.options });
      info = await this.client.volumeInspect(v.name);
      if (!info) throw new CairnError('podman-volume-create', `volume ${v.name} does not exist right after podman volume create`, 'check podman volume ls and the podman version');
    }
    if (v.storedAs === 'tar') {
      await this.client.volumeImport(v.name, await content.openStream(v.item));
    } else {
      if (!(await this.reachable(info))) {
        throw new CairnError('podman-volume-unreachable', `volume ${v.name} was stored as files but its mountpoint ${info.mountpoint || '(none)'} cannot be written here`, 'run cairn as the user owning the volume, or restore with --to DIR and import by hand');
      }
      await emptyDirectory(info.mountpoint);
      await content.restoreTree(v.item, info.mountpoint);
    }
    if (v.root && info.mountpoint) {
      const st = await lstatOrUndefined(info.mountpoint);
      if (st?.isDirectory()) {
        await fs.chmod(info.mountpoint, v.root.mode);
        if (process.getuid?.() === 0) await fs.lchown(info.mountpoint, v.root.uid, v.root.gid);
      }
    }
  }

  /** After a restore: reload systemd and start what was active; or create missing containers again and start those that ran. */
  private async bringBack(manifest: PodmanManifest, containers: StoredContainer[]): Promise<void> {
    const failures: string[] = [];
    if (this.systemd) {
      await systemdDaemonReload(this.user);
      for (const s of manifest.services) {
        if (!s.active) continue;
        const svc = new SystemdUnitService(s.unit, this.user);
        if (await svc.isRunning()) continue;
        await svc.start().catch((err: unknown) => failures.push(`${s.unit}: ${describeError(err)}`));
      }
    }
    for (const c of containers) {
      if (this.systemd && c.systemdUnit) continue;
      if (await this.client.containerInspect(c.name)) continue;
      if (!c.createCommand) {
        failures.push(`container ${c.name}: podman recorded no command to create it again`);
        continue;
      }
      try {
        await this.client.recreate(c.createCommand);
        if (c.running) await this.client.startContainer(c.name);
      } catch (err) {
        failures.push(`container ${c.name}: ${describeError(err)}`);
      }
    }
    if (failures.length > 0) {
      throw new CairnError('podman-services-not-back', `the data of source "${this.name}" was restored, but ${failures.join('; ')}`, 'create or start those containers by hand (podman ps -a shows what exists)');
    }
  }

  /**
   * Teardown: stops the quadlet services, removes the containers using the
   * volumes, the volumes and the unit files (everything inside a named quadlet
   * directory, which the `units` item holds; name single unit files to leave a
   * shared directory's other units alone), then reloads systemd. Things
   * already gone are listed in `missing` (and passed to onWarning), not thrown.
   */
  async remove(): Promise<void> {
    await this.teardown();
  }

  /** What remove() does, returning the report of what was removed and what was already gone. */
  async teardown(): Promise<PodmanTeardownReport> {
    const report: PodmanTeardownReport = { stoppedUnits: [], removedContainers: [], removedVolumes: [], removedFiles: [], missing: [] };
    const set = await this.quadlets();
    const volumes = this.volumeNames(set);
    if (this.systemd && set) {
      for (const u of set.units) {
        const svc = new SystemdUnitService(u.service, this.user);
        if (!(await svc.exists()) || !(await svc.isRunning())) continue;
        await svc.stop();
        report.stoppedUnits.push(u.service);
      }
    }
    const containers = new Map<string, string>();
    for (const v of volumes) for (const c of await this.client.containersUsingVolume(v)) containers.set(c.id, c.name);
    for (const [id, name] of containers) {
      await this.client.removeContainer(id);
      report.removedContainers.push(name);
    }
    for (const v of volumes) {
      if (!(await this.client.volumeExists(v))) {
        report.missing.push(`volume ${v}`);
        continue;
      }
      await this.client.volumeRemove(v);
      report.removedVolumes.push(v);
    }
    for (const p of (this.options.quadlets ?? []).map((q) => path.resolve(q))) {
      const st = await lstatOrUndefined(p);
      if (!st) {
        report.missing.push(p);
        continue;
      }
      if (st.isDirectory()) {
        for (const name of await fs.readdir(p)) {
          await fs.rm(path.join(p, name), { recursive: true, force: true });
          report.removedFiles.push(path.join(p, name));
        }
      } else {
        await fs.rm(p, { force: true });
        report.removedFiles.push(p);
      }
    }
    if (this.systemd && set) await systemdDaemonReload(this.user);
    for (const m of report.missing) this.warn(`${m} was already gone`);
    return report;
  }

  /** Throws when a unit path or a volume is missing. */
  async health(): Promise<void> {
    const set = await this.quadlets();
    if (set?.missing.length) throw new CairnError('podman-units-missing', `quadlet path ${set.missing[0]} (source "${this.name}") does not exist`, 'restore the source with cairn restore, or fix "quadlets" in the source options');
    for (const v of this.volumeNames(set)) {
      if (!(await this.client.volumeExists(v))) throw new CairnError('podman-volume-missing', `volume ${v} (source "${this.name}") does not exist`, 'restore the source with cairn restore');
    }
  }

  /** Unit files, volumes with sizes, containers and the images (with digests) they run. */
  async metadata(): Promise<SourceMetadata> {
    const inv = await this.inventory();
    const volumes = [];
    for (const v of inv.manifest.volumes) {
      const mp = inv.volumeInfos.get(v.name)?.mountpoint;
      const sizeBytes = mp && (await this.reachable(inv.volumeInfos.get(v.name)!)) ? await treeSize(mp) : undefined;
      volumes.push({ name: v.name, driver: v.driver, storedAs: v.storedAs, labels: v.labels, ...(sizeBytes !== undefined ? { sizeBytes } : {}) });
    }
    const images = new Map<string, { image: string; id: string; digest?: string }>();
    for (const c of inv.containers) images.set(c.imageId, { image: c.image, id: c.imageId, ...(c.imageDigest ? { digest: c.imageDigest } : {}) });
    return {
      unitFiles: inv.quadlets?.files ?? [],
      volumes,
      missingVolumes: inv.manifest.missingVolumes,
      bindMounts: inv.manifest.bindMounts.map((b) => b.path),
      containers: inv.containers.map((c) => ({ name: c.name, image: c.image, running: c.running })),
      images: [...images.values()],
      problems: inv.manifest.problems,
      host: os.hostname(),
    };
  }
}
