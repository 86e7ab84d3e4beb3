// Stopping the services that write to container volumes while they are backed
// up or restored, and always starting them again. With systemd (PID 1) and a
// loaded unit for the container (a quadlet's generated service, or the
// PODMAN_SYSTEMD_UNIT label podman puts on containers it runs for systemd),
// `systemctl [--user] stop/start UNIT`, so systemd's view stays right and its
// restart policy does not fight us; otherwise `podman stop/start` of the
// running containers that use the volumes.
import { existsSync } from 'node:fs';
import { CairnError, describeError } from '../errors.js';
import { runProcess, type ProcessFailure } from './processStream.js';

/** Something cairn can stop before touching a volume and start again afterwards. */
export interface StoppableService {
  /** "systemd unit nextcloud.service", "container nextcloud (1a2b3c4d5e6f)". */
  readonly description: string;
  /** Whether it runs now (only running services are stopped, and only those are started again). */
  isRunning(): Promise<boolean>;
  stop(): Promise<void>;
  start(): Promise<void>;
}

/** Events of {@link withServicesStopped}, for logs and tests. */
export interface QuiesceEvents {
  onStopped?(service: StoppableService): void;
  onStarted?(service: StoppableService): void;
}

/** True when systemd is the init system (what sd_booted() checks). */
export function systemdIsRunning(): boolean {
  return existsSync('/run/systemd/system');
}

/** Runs systemctl for the system or the user's manager; returns stdout, or throws a CairnError naming the unit. */
async function systemctl(user: boolean, args: string[], action: string): Promise<string> {
  const { stdout } = await runProcess('systemctl', [...(user ? ['--user'] : []), ...args], {
    onFailure: (f: ProcessFailure) =>
      new CairnError(
        'systemd-failed',
        `systemctl ${user ? '--user ' : ''}${args.join(' ')} (${action}) failed: ${f.stderrTail || `exit code ${f.exitCode}`}`,
        `check the unit with: systemctl ${user ? '--user ' : ''}status ${args.at(-1) ?? ''}; journalctl ${user ? '--user ' : ''}-u ${args.at(-1) ?? ''}`,
      ),
  });
  return stdout.trim();
}

/** A systemd unit (a quadlet's generated service). */
export class SystemdUnitService implements StoppableService {
  readonly description: string;

  constructor(
    readonly unit: string,
    readonly user: boolean,
  ) {
    this.description = `systemd ${user ? 'user ' : ''}unit ${unit}`;
  }

  /** True when systemd knows the unit (its LoadState is "loaded"). */
  async exists(): Promise<boolean> {
    try {
      return (await systemctl(this.user, ['show', '--property=LoadState', '--value', this.unit], 'looking up')) === 'loaded';
    } catch {
      return false;
    }
  }

  /** `systemctl is-active` says "active" (or "activating"/"reloading"). */
  async isRunning(): Promise<boolean> {
    const r = await runProcess('systemctl', [...(this.user ? ['--user'] : []), 'is-active', this.unit]).catch(() => undefined);
    return r !== undefined && /^(active|activating|reloading)$/.test(r.stdout.trim());
  }

  /** `systemctl stop UNIT` (waits until stopped). */
  async stop(): Promise<void> {
    await systemctl(this.user, ['stop', this.unit], 'stopping it for the backup');
  }

  /** `systemctl start UNIT`. */
  async start(): Promise<void> {
    await systemctl(this.user, ['start', this.unit], 'starting it again');
  }
}

/** `systemctl [--user] daemon-reload`, so restored or removed quadlet files take effect. */
export async function systemdDaemonReload(user: boolean): Promise<void> {
  await systemctl(user, ['daemon-reload'], 'reloading unit files');
}

/**
 * Stops the services, runs `fn`, and starts every service it stopped again in
 * reverse order, also when `fn` or a later stop fails. Services that were not
 * running are left alone. When `fn` failed its error is thrown (with any
 * failure to start appended); when only starting failed, that is thrown.
 */
export async function withServicesStopped<T>(services: readonly StoppableService[], fn: () => Promise<T>, events: QuiesceEvents = {}): Promise<T> {
  const stopped: StoppableService[] = [];
  let failure: unknown;
  let failed = false;
  let result: T | undefined;
  try {
    for (const s of services) {
      if (!(await s.isRunning())) continue;
      try {
        await s.stop();
      } finally {
        // A stop that failed half-way (timeout) may still have stopped it: start it again too.
        stopped.push(s);
      }
      events.onStopped?.(s);
    }
    result = await fn();
  } catch (err) {
    failure = err;
    failed = true;
  }
  const notStarted: string[] = [];
  for (const s of [...stopped].reverse()) {
    try {
      await s.start();
      events.onStarted?.(s);
    } catch (err) {
      notStarted.push(`${s.description}: ${describeError(err)}`);
    }
  }
  if (failed) {
    if (notStarted.length === 0) throw failure;
    throw new CairnError(
      'services-not-restarted',
      `${describeError(failure)}; and then starting again failed for ${notStarted.join('; ')}`,
      'start those services by hand (systemctl start UNIT or podman start CONTAINER), then look at the first error',
      undefined,
      { cause: failure },
    );
  }
  if (notStarted.length > 0) {
    throw new CairnError(
      'services-not-restarted',
      `the work in between finished, but starting again failed for ${notStarted.join('; ')}`,
      'start those services by hand (systemctl start UNIT or podman start CONTAINER) and look at their logs',
    );
  }
  return result as T;
}

/** A container that uses a volume, as the services planner needs it. */
export interface VolumeContainer {
  id: string;
  name: string;
  /** The systemd unit that runs it (podman's PODMAN_SYSTEMD_UNIT label), if any. */
  systemdUnit?: string;
}

/** What the planner and {@link PodmanContainerService} need of a podman client. */
export interface PodmanContainerControl {
  /** Containers (any state) that mount the named volume. */
  containersUsingVolume(volume: string): Promise<VolumeContainer[]>;
  containerRunning(id: string): Promise<boolean>;
  stopContainer(id: string): Promise<void>;
  startContainer(id: string): Promise<void>;
}

/** A container stopped and started with `podman stop/start`. */
export class PodmanContainerService implements StoppableService {
  readonly description: string;

  constructor(
    private readonly podman: PodmanContainerControl,
    readonly id: string,
    readonly containerName: string,
  ) {
    this.description = `container ${containerName} (${id.slice(0, 12)})`;
  }

  /** Whether the container runs now. */
  isRunning(): Promise<boolean> {
    return this.podman.containerRunning(this.id);
  }

  /** `podman stop`. */
  stop(): Promise<void> {
    return this.podman.stopContainer(this.id);
  }

  /** `podman start`. */
  start(): Promise<void> {
    return this.podman.startContainer(this.id);
  }
}

/** How {@link servicesForVolumes} chooses between systemd and podman. */
export interface ServicePlanOptions {
  /** Use systemctl for units that exist; default: when systemd is PID 1. */
  systemd?: boolean;
  /** systemctl --user (rootless quadlets in ~/.config/containers/systemd). */
  user: boolean;
  /** Services of the quadlet units that mount the volumes ("nextcloud.service"). */
  quadletServices?: readonly string[];
}

/**
 * The services to stop so that nothing writes to `volumes`: with systemd, the
 * quadlet services and the units named by the containers' PODMAN_SYSTEMD_UNIT
 * label that systemd knows; every other container that mounts one of the
 * volumes as itself (podman stop/start).
 */
export async function servicesForVolumes(podman: PodmanContainerControl, volumes: readonly string[], opts: ServicePlanOptions): Promise<StoppableService[]> {
  const containers = new Map<string, VolumeContainer>();
  for (const v of volumes) for (const c of await podman.containersUsingVolume(v)) containers.set(c.id, c);
  const services: StoppableService[] = [];
  const covered = new Set<string>();
  if (opts.systemd ?? systemdIsRunning()) {
    const units = new Set<string>(opts.quadletServices ?? []);
    for (const c of containers.values()) if (c.systemdUnit) units.add(c.systemdUnit);
    for (const unit of units) {
      const svc = new SystemdUnitService(unit, opts.user);
      if (!(await svc.exists())) continue;
      services.push(svc);
      covered.add(unit);
    }
  }
  for (const c of containers.values()) {
    if (c.systemdUnit && covered.has(c.systemdUnit)) continue;
    services.push(new PodmanContainerService(podman, c.id, c.name));
  }
  return services;
}
