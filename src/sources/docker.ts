import { createReadStream, promises as fs, constants as fsConstants, readFileSync } from 'node:fs';
import path from 'node:path';
import { finished, Readable } from 'node:stream';
import Docker from 'dockerode';
import { CairnError, describeError } from '../errors.js';
import { emptyDirectory, jsonItem, lstatOrUndefined, readAll, treeSize, uniqueName, writeFileAtomically } from './itemFiles.js';
import type { StoredPath } from './podman.js';
import { withServicesStopped, type StoppableService } from './podmanServices.js';
import type { Source, SourceItem, SourceMetadata, SourceRestoreOptions, StoredContent } from './source.js';

/** The label Docker Compose puts on the containers, volumes and networks of a project. */
export const composeProjectLabel = 'com.docker.compose.project';

/** Where the helper container mounts a volume it reads or fills through the API. */
const helperMount = '/cairn-volume';

/** Options of a {@link DockerSource}. */
export interface DockerSourceOptions {
  /** The source's name inside its component; default "docker". */
  name?: string;
  /** A Compose project: its containers and volumes are found by the com.docker.compose.project label. */
  project?: string;
  /** More named volumes to back up. */
  volumes?: string[];
  /** Compose files and .env files to keep with the volumes (put back at their paths on restore). */
  composeFiles?: string[];
  /** Volume data from the mountpoint as a file tree ("mountpoint"), through the Engine API's archive endpoints ("api"), or the first when reachable ("auto", default). */
  volumeData?: 'auto' | 'mountpoint' | 'api';
  /** Image for the helper container of the API path; default: the image of a container using the volume. */
  helperImage?: string;
  /** The engine, as DOCKER_HOST spells it (unix:///run/docker.sock, tcp://host:2375); default DOCKER_HOST, else /var/run/docker.sock. */
  host?: string;
  /** Seconds a container gets to stop before it is killed; default 10. */
  stopTimeoutSeconds?: number;
  /** Called with things worth telling the user that do not stop the work. */
  onWarning?: (message: string) => void;
}

/** How dockerode connects for a DOCKER_HOST value (unix, tcp/http, https with DOCKER_CERT_PATH, ssh). */
export function dockerConnection(host: string | undefined = process.env.DOCKER_HOST): Docker.DockerOptions {
  if (!host) return { socketPath: '/var/run/docker.sock' };
  if (host.startsWith('unix://')) return { socketPath: host.slice('unix://'.length) };
  if (host.startsWith('/')) return { socketPath: host };
  const m = /^(tcp|http|https|ssh):\/\/(?:([^@/]+)@)?([^:/]+|\[[^\]]+\])(?::(\d+))?\/?$/.exec(host);
  if (!m) throw new CairnError('docker-host', `cannot use DOCKER_HOST "${host}"`, 'use unix:///path/to/docker.sock, tcp://HOST:PORT or ssh://USER@HOST');
  const [, scheme, user, hostname, port] = m;
  if (scheme === 'ssh') return { protocol: 'ssh', host: hostname!, ...(port ? { port: Number(port) } : {}), ...(user ? { username: user } : {}) };
  const certs = process.env.DOCKER_CERT_PATH;
  const tls = scheme === 'https' || (scheme === 'tcp' && (process.env.DOCKER_TLS_VERIFY ?? '') !== '' && certs !== undefined);
  if (tls && certs) {
    const read = (f: string): Buffer => readFileSync(path.join(certs, f));
    return { protocol: 'https', host: hostname!, port: Number(port ?? 2376), ca: read('ca.pem'), cert: read('cert.pem'), key: read('key.pem') };
  }
  return { protocol: tls ? 'https' : 'http', host: hostname!, port: Number(port ?? (tls ? 2376 : 2375)) };
}

interface EngineError {
  statusCode?: number;
  code?: string;
  reason?: string;
  json?: { message?: string } | null;
  message?: string;
}

/** A CairnError for a failed Engine API call, with a remedy for an unreachable engine. */
function engineError(action: string, err: unknown, host: string): CairnError {
  const e = (err ?? {}) as EngineError;
  const detail = e.json?.message ?? e.reason ?? e.message ?? describeError(err);
  if (e.code === 'ECONNREFUSED' || e.code === 'ENOENT' || e.code === 'EACCES') {
    return new CairnError('docker-unreachable', `${action}: cannot reach the Docker engine at ${host}: ${detail}`, 'start the engine (systemctl start docker, or podman system service), or set DOCKER_HOST / the source\'s "host"');
  }
  return new CairnError('docker-failed', `${action} failed: ${detail}`, `check the engine's log; docker ${action.split(' ').slice(0, 2).join(' ')} by hand shows the same`, undefined, { cause: err });
}

function isNotFound(err: unknown): boolean {
  return (err as EngineError | undefined)?.statusCode === 404;
}

/** What `volumes.json` holds for one Docker volume. */
export interface StoredDockerVolume {
  name: string;
  driver: string;
  labels: Record<string, string>;
  options: Record<string, string>;
  item: string;
  storedAs: 'tree' | 'tar';
  root?: { mode: number; uid: number; gid: number };
}

/** The `volumes.json` item of a Docker source. */
export interface DockerManifest {
  version: 1;
  project?: string;
  composeFiles: StoredPath[];
  volumes: StoredDockerVolume[];
  missingVolumes: string[];
}

/** A container of `containers.json`: its image and the body that creates it again. */
export interface StoredDockerContainer {
  id: string;
  name: string;
  image: string;
  imageId: string;
  imageDigest?: string;
  running: boolean;
  volumes: string[];
  /** POST /containers/create body (Config plus HostConfig and network aliases), as inspected. */
  create: Docker.ContainerCreateOptions;
}

/** What a Docker teardown did and what it could not find. */
export interface DockerTeardownReport {
  removedContainers: string[];
  removedVolumes: string[];
  /** Volumes already gone (reported, not fatal). */
  missing: string[];
}

/** A container stopped and started through the Engine API. */
export class DockerContainerService implements StoppableService {
  readonly description: string;

  constructor(
    readonly container: Docker.Container,
    readonly containerName: string,
    private readonly timeoutSeconds: number,
  ) {
    this.description = `container ${containerName} (${container.id.slice(0, 12)})`;
  }

  /** Whether it runs now. */
  async isRunning(): Promise<boolean> {
    try {
      return (await this.container.inspect()).State.Running;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
  }

  /** POST /containers/{id}/stop?t=. */
  async stop(): Promise<void> {
    await this.container.stop({ t: this.timeoutSeconds });
  }

  /** POST /containers/{id}/start. */
  async start(): Promise<void> {
    await this.container.start();
  }
}

const manifestItem = 'volumes.json';
const containersItem = 'containers.json';

interface DockerInventory {
  manifest: DockerManifest;
  mountpoints: Map<string, string>;
  containers: StoredDockerContainer[];
}

/**
 * Docker volumes and Compose projects through the Docker Engine API (also
 * podman's compatible API): the project's volumes (by the Compose project
 * label, and those its containers mount) and any named ones, each stored as a
 * tree at its mountpoint when reachable, else as a tar through a helper
 * container's archive endpoint; the Compose and .env files; volumes.json and
 * containers.json to create volumes and containers again. `quiesce(fn)`
 * stops the project's containers and those using the volumes around `fn`.
 */
export class DockerSource implements Source {
  readonly name: string;
  readonly kind = 'docker';
  readonly docker: Docker;
  private readonly options: DockerSourceOptions;
  private readonly host: string;
  private readonly quiesced = new Set<string>();

  constructor(options: DockerSourceOptions) {
    this.name = options.name ?? 'docker';
    if (!options.project && !options.volumes?.length) {
      throw new CairnError('docker-config', `docker source "${this.name}" names no Compose project and no volumes`, 'set "project" (the Compose project name) or "volumes" in the source options');
    }
    this.options = options;
    this.host = options.host ?? process.env.DOCKER_HOST ?? 'unix:///var/run/docker.sock';
    this.docker = new Docker(dockerConnection(this.host));
  }

  private warn(message: string): void {
    this.options.onWarning?.(`docker source "${this.name}": ${message}`);
  }

  private async call<T>(action: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw engineError(action, err, this.host);
    }
  }

  private get timeout(): number {
    return this.options.stopTimeoutSeconds ?? 10;
  }

  /** Ids → names of the project's containers and of every container mounting one of `volumes`, by name. */
  private async containerIds(volumes: readonly string[]): Promise<Map<string, string>> {
    const ids = new Map<string, string>();
    const add = (list: Docker.ContainerInfo[]): void => {
      for (const c of list) ids.set(c.Id, (c.Names[0] ?? c.Id).replace(/^\//, ''));
    };
    if (this.options.project) add(await this.call('listing containers', () => this.docker.listContainers({ all: true, filters: { label: [`${composeProjectLabel}=${this.options.project}`] } })));
    for (const v of volumes) add(await this.call('listing containers', () => this.docker.listContainers({ all: true, filters: { volume: [v] } })));
    return new Map([...ids].sort((a, b) => a[1].localeCompare(b[1])));
  }

  /** The project's volumes (labelled, or mounted by its containers) plus the configured ones, sorted. */
  private async volumeNames(): Promise<string[]> {
    const names = new Set(this.options.volumes ?? []);
    const project = this.options.project;
    if (project) {
      const listed = await this.call('listing volumes', () => this.docker.listVolumes({ filters: { label: [`${composeProjectLabel}=${project}`] } }));
      for (const v of listed.Volumes ?? []) names.add(v.Name);
      const containers = await this.call('listing containers', () => this.docker.listContainers({ all: true, filters: { label: [`${composeProjectLabel}=${project}`] } }));
      for (const c of containers) for (const m of c.Mounts ?? []) if (m.Type === 'volume' && m.Name) names.add(m.Name);
    }
    return [...names].sort();
  }

  private async volumeInspect(name: string): Promise<Docker.VolumeInspectInfo | undefined> {
    try {
      return await this.docker.getVolume(name).inspect();
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw engineError(`inspecting volume ${name}`, err, this.host);
    }
  }

  private async reachable(v: Docker.VolumeInspectInfo): Promise<boolean> {
    if (v.Driver !== 'local' || (v.Options && 'device' in v.Options) || !v.Mountpoint) return false;
    try {
      await fs.access(v.Mountpoint, fsConstants.R_OK | fsConstants.X_OK);
      return (await fs.stat(v.Mountpoint)).isDirectory();
    } catch {
      return false;
    }
  }

  private async inventory(): Promise<DockerInventory> {
    const taken = new Set([manifestItem, containersItem]);
    const manifest: DockerManifest = { version: 1, ...(this.options.project ? { project: this.options.project } : {}), composeFiles: [], volumes: [], missingVolumes: [] };
    for (const f of (this.options.composeFiles ?? []).map((p) => path.resolve(p))) {
      const st = await lstatOrUndefined(f);
      if (!st) {
        this.warn(`${f} does not exist (not backed up)`);
        continue;
      }
      manifest.composeFiles.push({ path: f, item: uniqueName(`compose-${path.basename(f).replace(/^\./, 'dot-')}`, taken), kind: 'file', mode: st.mode & 0o7777 });
    }
    const mountpoints = new Map<string, string>();
    const mode = this.options.volumeData ?? 'auto';
    const names = await this.volumeNames();
    for (const name of names) {
      const v = await this.volumeInspect(name);
      if (!v) {
        manifest.missingVolumes.push(name);
        this.warn(`volume ${name} does not exist (not backed up)`);
        continue;
      }
      const tree = mode !== 'api' && (await this.reachable(v));
      if (mode === 'mountpoint' && !tree) {
        throw new CairnError('docker-volume-unreachable', `the mountpoint of volume ${name} (${v.Mountpoint || 'none'}) cannot be read here`, 'run cairn on the Docker host as root, or set volumeData to "api"');
      }
      const stored: StoredDockerVolume = { name, driver: v.Driver, labels: v.Labels ?? {}, options: v.Options ?? {}, item: uniqueName(tree ? `volume-${name}` : `volume-${name}.tar`, taken), storedAs: tree ? 'tree' : 'tar' };
      const st = tree ? await lstatOrUndefined(v.Mountpoint) : undefined;
      if (st) stored.root = { mode: st.mode & 0o7777, uid: st.uid, gid: st.gid };
      manifest.volumes.push(stored);
      mountpoints.set(name, v.Mountpoint);
    }
    const containers: StoredDockerContainer[] = [];
    for (const [id] of await this.containerIds(manifest.volumes.map((v) => v.name))) {
      const c = await this.containerRecord(id);
      if (c) containers.push(c);
    }
    containers.sort((a, b) => a.name.localeCompare(b.name));
    return { manifest, mountpoints, containers };
  }

  /** A container's image, digest, state and the create body that makes it again. */
  private async containerRecord(id: string): Promise<StoredDockerContainer | undefined> {
    let info: Docker.ContainerInspectInfo;
    try {
      info = await this.docker.getContainer(id).inspect();
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw engineError(`inspecting container ${id.slice(0, 12)}`, err, this.host);
    }
    const name = info.Name.replace(/^\//, '');
    const endpoints: Record<string, { Aliases?: string[] }> = {};
    for (const [net, ep] of Object.entries(info.NetworkSettings?.Networks ?? {})) {
      endpoints[net] = ep.Aliases?.length ? { Aliases: ep.Aliases.filter((a: string) => a !== info.Id.slice(0, 12)) } : {};
    }
    const hostConfig: Docker.HostConfig = { ...info.HostConfig };
    // podman's compatible API reports ulimits as "RLIMIT_NOFILE" but takes only Docker's "nofile" when creating.
    if (hostConfig.Ulimits) hostConfig.Ulimits = hostConfig.Ulimits.map((u) => ({ ...u, Name: (u.Name ?? '').replace(/^RLIMIT_/, '').toLowerCase() }));
    // As Watchtower does: the inspected Config and HostConfig are what POST /containers/create takes.
    const create: Docker.ContainerCreateOptions = { ...info.Config, name, HostConfig: hostConfig };
    if (Object.keys(endpoints).length > 0) create.NetworkingConfig = { EndpointsConfig: endpoints };
    const record: StoredDockerContainer = {
      id: info.Id,
      name,
      image: info.Config.Image,
      imageId: info.Image,
      running: info.State.Running || this.quiesced.has(info.Id),
      volumes: info.Mounts.filter((m) => m.Type === 'volume' && m.Name).map((m) => m.Name!),
      create,
    };
    try {
      const image = await this.docker.getImage(info.Image).inspect();
      const digest = image.RepoDigests?.[0]?.split('@')[1];
      if (digest) record.imageDigest = digest;
    } catch (err) {
      if (!isNotFound(err)) throw engineError(`inspecting image ${info.Config.Image}`, err, this.host);
    }
    return record;
  }

  /** Compose files, volume data (trees, or tars through the API), volumes.json and containers.json. */
  async items(): Promise<SourceItem[]> {
    const inv = await this.inventory();
    const items: SourceItem[] = [];
    for (const f of inv.manifest.composeFiles) {
      const st = await fs.stat(f.path);
      items.push({ type: 'stream', name: f.item, open: async () => createReadStream(f.path), mode: st.mode & 0o7777, mtime: st.mtime });
    }
    for (const v of inv.manifest.volumes) {
      if (v.storedAs === 'tree') items.push({ type: 'tree', name: v.item, path: inv.mountpoints.get(v.name)! });
      else items.push({ type: 'stream', name: v.item, open: () => this.exportVolume(v.name, inv.containers), mode: 0o600 });
    }
    items.push(jsonItem(manifestItem, inv.manifest), jsonItem(containersItem, inv.containers));
    return items;
  }

  /** The image for a helper container: configured, else one a container using the volume runs, else any local image. */
  private async helperImage(volume: string, containers: readonly StoredDockerContainer[]): Promise<string> {
    if (this.options.helperImage) return this.options.helperImage;
    const user = containers.find((c) => c.volumes.includes(volume)) ?? containers[0];
    if (user) return user.imageId;
    const images = await this.call('listing images', () => this.docker.listImages());
    if (images[0]) return images[0].Id;
    throw new CairnError('docker-no-helper-image', `no image to create a helper container for volume ${volume}`, 'set "helperImage" in the source options to a local image (any image will do: the helper never runs)');
  }

  /** A created, never started container with the volume mounted, for the archive endpoints. */
  private async helper(volume: string, containers: readonly StoredDockerContainer[]): Promise<Docker.Container> {
    const image = await this.helperImage(volume, containers);
    return this.call(`creating a helper container for volume ${volume}`, () =>
      this.docker.createContainer({
        name: `cairn-helper-${volume}-${Date.now().toString(36)}`,
        Image: image,
        Cmd: ['true'],
        Entrypoint: [],
        Labels: { 'cairn.helper': 'true' },
        HostConfig: { Binds: [`${volume}:${helperMount}`], NetworkMode: 'none' },
      }),
    );
  }

  /** The volume's files as a tar (GET /containers/{helper}/archive of the volume's contents); the helper goes when the stream ends. */
  private async exportVolume(volume: string, containers: readonly StoredDockerContainer[]): Promise<Readable> {
    const helper = await this.helper(volume, containers);
    let stream: NodeJS.ReadableStream;
    try {
      // "/." gives the entries relative to the volume root, with Docker and with podman alike.
      stream = await helper.getArchive({ path: `${helperMount}/.` });
    } catch (err) {
      await helper.remove({ force: true }).catch(() => undefined);
      throw engineError(`reading volume ${volume} through the archive endpoint`, err, this.host);
    }
    const readable = stream instanceof Readable ? stream : Readable.from(stream as AsyncIterable<Buffer>);
    finished(readable, () => void helper.remove({ force: true }).catch(() => undefined));
    return readable;
  }

  /** Extracts a stored tar into the volume (PUT /containers/{helper}/archive). */
  private async importVolume(volume: string, tar: Readable, containers: readonly StoredDockerContainer[]): Promise<void> {
    const helper = await this.helper(volume, containers);
    try {
      // copyUIDGID: keep the owners stored in the tar (the engine chowns to the container's user otherwise).
      const response = await helper.putArchive(tar, { path: helperMount, copyUIDGID: '1' });
      // The response body is empty; draining it makes sure the request is complete.
      for await (const _ of response as AsyncIterable<unknown>) void _;
    } catch (err) {
      throw engineError(`filling volume ${volume} through the archive endpoint`, err, this.host);
    } finally {
      await helper.remove({ force: true }).catch(() => undefined);
    }
  }

  /** The containers quiesce() stops: the project's and those mounting the volumes. */
  async services(): Promise<StoppableService[]> {
    const ids = await this.containerIds(await this.volumeNames());
    return [...ids].map(([id, name]) => new DockerContainerService(this.docker.getContainer(id), name, this.timeout));
  }

  /** Runs `fn` with the containers stopped, and starts them again afterwards, also when `fn` fails. */
  async quiesce<T>(fn: () => Promise<T>): Promise<T> {
    const services = await this.services();
    const idOf = (s: StoppableService): string => (s instanceof DockerContainerService ? s.container.id : s.description);
    try {
      return await withServicesStopped(services, fn, {
        onStopped: (s) => this.quiesced.add(idOf(s)),
        onStarted: (s) => this.quiesced.delete(idOf(s)),
      });
    } finally {
      this.quiesced.clear();
    }
  }

  /**
   * With `to`: every item written under that directory, nothing live touched.
   * Without: Compose files back in place, volumes created when missing
   * (driver, labels, options) and filled (emptied first), and containers that
   * are gone created again from their recorded configuration and started if
   * they ran.
   */
  async restore(content: StoredContent, options: SourceRestoreOptions): Promise<void> {
    const names = new Set(await content.names());
    if (!names.has(manifestItem)) {
      throw new CairnError('docker-nothing-stored', `the backup has no ${manifestItem} for source "${this.name}" (it holds: ${[...names].join(', ') || 'nothing'})`, 'pick a snapshot made with a docker source');
    }
    const manifest = JSON.parse(await readAll(await content.openStream(manifestItem))) as DockerManifest;
    const containers = names.has(containersItem) ? (JSON.parse(await readAll(await content.openStream(containersItem))) as StoredDockerContainer[]) : [];
    if (options.to !== undefined) {
      const to = path.resolve(options.to);
      await fs.mkdir(to, { recursive: true });
      const trees = new Set(manifest.volumes.filter((v) => v.storedAs === 'tree').map((v) => v.item));
      for (const name of names) {
        const target = path.join(to, name);
        if (trees.has(name)) {
          await fs.mkdir(target, { recursive: true });
          await content.restoreTree(name, target);
        } else {
          await writeFileAtomically(await content.openStream(name), target);
        }
      }
      return;
    }
    for (const f of manifest.composeFiles) {
      await writeFileAtomically(await content.openStream(f.item), f.path, f.mode ?? 0o600);
    }
    for (const v of manifest.volumes) await this.restoreVolume(content, names, v, containers);
    await this.bringBack(containers);
  }

  private async restoreVolume(content: StoredContent, names: Set<string>, v: StoredDockerVolume, containers: readonly StoredDockerContainer[]): Promise<void> {
    if (!names.has(v.item)) throw new CairnError('docker-item-missing', `the backup lists volume ${v.name} but does not hold ${v.item}`, 'restore from another snapshot');
    let info = await this.volumeInspect(v.name);
    if (info && v.storedAs === 'tar') {
      const users = await this.call('listing containers', () => this.docker.listContainers({ all: true, filters: { volume: [v.name] } }));
      if (users.length === 0) {
        // Nothing holds it: start from an empty volume, so files deleted since the backup do not linger.
        await this.call(`removing volume ${v.name}`, () => this.docker.getVolume(v.name).remove());
        info = undefined;
      }
    }
    if (!info) {
      await this.call(`creating volume ${v.name}`, () => this.docker.createVolume({ Name: v.name, Driver: v.driver, Labels: v.labels, DriverOpts: v.options }));
      info = await this.volumeInspect(v.name);
      if (!info) throw new CairnError('docker-volume-create', `volume ${v.name} does not exist right after it was created`, 'check the engine with: docker volume ls');
    }
    if (v.storedAs === 'tar') {
      await this.importVolume(v.name, await content.openStream(v.item), containers);
    } else {
      if (!(await this.reachable(info))) {
        throw new CairnError('docker-volume-unreachable', `volume ${v.name} was stored as files but its mountpoint ${info.Mountpoint || '(none)'} cannot be written here`, 'run cairn on the Docker host as root, or restore with --to DIR');
      }
      await emptyDirectory(info.Mountpoint);
      await content.restoreTree(v.item, info.Mountpoint);
      if (v.root) {
        await fs.chmod(info.Mountpoint, v.root.mode);
        if (process.getuid?.() === 0) await fs.lchown(info.Mountpoint, v.root.uid, v.root.gid);
      }
    }
  }

  /** Creates containers that are gone from their recorded configuration; starts those that ran. */
  private async bringBack(containers: readonly StoredDockerContainer[]): Promise<void> {
    const failures: string[] = [];
    for (const c of containers) {
      try {
        await this.docker.getContainer(c.name).inspect();
        continue;
      } catch (err) {
        if (!isNotFound(err)) throw engineError(`inspecting container ${c.name}`, err, this.host);
      }
      try {
        const created = await this.docker.createContainer({ ...c.create, name: c.name });
        if (c.running) await created.start();
      } catch (err) {
        failures.push(`container ${c.name}: ${(err as EngineError).json?.message ?? describeError(err)}`);
      }
    }
    if (failures.length > 0) {
      throw new CairnError('docker-containers-not-back', `the volumes of source "${this.name}" were restored, but ${failures.join('; ')}`, 'bring the project up again with docker compose up -d (the Compose files were restored too)');
    }
  }

  /** Teardown: stops and removes the project's containers and those using the volumes, then the volumes. Compose files stay. */
  async remove(): Promise<void> {
    await this.teardown();
  }

  /** What remove() does, returning what was removed and what was already gone. */
  async teardown(): Promise<DockerTeardownReport> {
    const report: DockerTeardownReport = { removedContainers: [], removedVolumes: [], missing: [] };
    const volumes = await this.volumeNames();
    for (const [id, name] of await this.containerIds(volumes)) {
      const c = this.docker.getContainer(id);
      await this.call(`removing container ${name}`, async () => {
        if ((await c.inspect()).State.Running) await c.stop({ t: this.timeout });
        await c.remove({ force: true });
      });
      report.removedContainers.push(name);
    }
    for (const v of volumes) {
      if (!(await this.volumeInspect(v))) {
        report.missing.push(`volume ${v}`);
        continue;
      }
      await this.call(`removing volume ${v}`, () => this.docker.getVolume(v).remove());
      report.removedVolumes.push(v);
    }
    for (const m of report.missing) this.warn(`${m} was already gone`);
    return report;
  }

  /** Throws when the engine does not answer or a configured volume is missing. */
  async health(): Promise<void> {
    await this.call('pinging the engine', () => this.docker.ping());
    for (const v of this.options.volumes ?? []) {
      if (!(await this.volumeInspect(v))) throw new CairnError('docker-volume-missing', `volume ${v} (source "${this.name}") does not exist`, 'restore the source with cairn restore');
    }
  }

  /** Compose files, volumes with sizes, containers and the images (with digests) they run. */
  async metadata(): Promise<SourceMetadata> {
    const inv = await this.inventory();
    const volumes = [];
    for (const v of inv.manifest.volumes) {
      const size = v.storedAs === 'tree' ? await treeSize(inv.mountpoints.get(v.name)!) : undefined;
      volumes.push({ name: v.name, driver: v.driver, storedAs: v.storedAs, labels: v.labels, ...(size !== undefined ? { sizeBytes: size } : {}) });
    }
    const images = new Map<string, { image: string; id: string; digest?: string }>();
    for (const c of inv.containers) images.set(c.imageId, { image: c.image, id: c.imageId, ...(c.imageDigest ? { digest: c.imageDigest } : {}) });
    return {
      engine: this.host,
      ...(this.options.project ? { project: this.options.project } : {}),
      composeFiles: inv.manifest.composeFiles.map((f) => f.path),
      volumes,
      missingVolumes: inv.manifest.missingVolumes,
      containers: inv.containers.map((c) => ({ name: c.name, image: c.image, running: c.running })),
      images: [...images.values()],
    };
  }
}

