import os from 'node:os';
import { CairnError, ExitCode } from '../errors.js';
import { decodeLock, encodeLock, type LockData } from './lockCodec.js';
import type { Repository } from './repository.js';

/** restic's rules (format §12): refresh every 5 minutes, stale after 30. */
export const lockRefreshMs = 5 * 60 * 1000;
export const lockStaleMs = 30 * 60 * 1000;

/** A lock file as found in a repository. */
export interface FoundLock {
  id: string;
  data: LockData;
}

/** True when the lock is stale by restic's definition: old, or of a dead process on this host. */
export function isStaleLock(lock: LockData, now = Date.now(), hostname = os.hostname()): boolean {
  if (now - Date.parse(lock.time) > lockStaleMs) return true;
  if (lock.hostname !== hostname) return false;
  return !processExists(lock.pid);
}

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Lists every readable lock; an unreadable lock is an error (as in current restic). */
export async function listLocks(repo: Repository, skip?: string): Promise<FoundLock[]> {
  const out: FoundLock[] = [];
  for (const id of await repo.listIds('lock')) {
    if (id === skip) continue;
    let data: LockData;
    try {
      data = decodeLock(await repo.loadJsonFile('lock', id));
    } catch (err) {
      if (err instanceof CairnError && err.code === 'not-found') continue; // removed meanwhile
      throw new CairnError('invalid-lock', `lock file ${id.slice(0, 8)} cannot be read`, 'If no other cairn/restic process uses the repository, run `cairn unlock --remove-all`.');
    }
    out.push({ id, data });
  }
  return out;
}

function describeLock(l: FoundLock): string {
  const age = Math.round((Date.now() - Date.parse(l.data.time)) / 1000);
  return `${l.data.exclusive ? 'an exclusive' : 'a'} lock by PID ${l.data.pid} on ${l.data.hostname} by ${l.data.username} (${age}s ago, ${l.id.slice(0, 8)})`;
}

function lockedError(l: FoundLock): CairnError {
  const stale = isStaleLock(l.data);
  return new CairnError(
    'locked',
    `repository is already locked: ${describeLock(l)}${stale ? ' — the lock looks stale' : ''}`,
    stale ? 'The process that held it is gone: run `cairn unlock` to remove stale locks, then retry.' : 'Wait for the other operation to finish, or if it is dead, run `cairn unlock` (stale locks only) or `cairn unlock --remove-all`.',
    ExitCode.locked,
  );
}

/**
 * A lock this process holds. Refreshes itself every 5 minutes (a new file,
 * then the old one removed) until released.
 */
export class RepositoryLock {
  private id: string;
  private timer: NodeJS.Timeout | undefined;
  private refreshing: Promise<void> = Promise.resolve();
  private released = false;

  private constructor(
    private readonly repo: Repository,
    private readonly exclusive: boolean,
    id: string,
  ) {
    this.id = id;
    this.timer = setInterval(() => {
      this.refreshing = this.refresh().catch(() => {});
    }, lockRefreshMs);
    this.timer.unref();
  }

  /** Takes a lock: fails with exit code 11 if a conflicting lock exists (checked before and 200 ms after writing ours). */
  static async acquire(repo: Repository, exclusive: boolean): Promise<RepositoryLock> {
    const conflict = (locks: FoundLock[]) => locks.find((l) => exclusive || l.data.exclusive);
    const before = conflict(await listLocks(repo));
    if (before) throw lockedError(before);
    const id = await repo.saveJsonFile('lock', encodeLock(newLockData(exclusive)));
    await new Promise((r) => setTimeout(r, 200));
    const after = conflict(await listLocks(repo, id));
    if (after) {
      await repo.backend.remove({ type: 'lock', name: id });
      throw lockedError(after);
    }
    return new RepositoryLock(repo, exclusive, id);
  }

  private async refresh(): Promise<void> {
    if (this.released) return;
    const old = this.id;
    this.id = await this.repo.saveJsonFile('lock', encodeLock(newLockData(this.exclusive)));
    await this.repo.backend.remove({ type: 'lock', name: old });
  }

  /** Removes the lock file. */
  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    clearInterval(this.timer);
    await this.refreshing;
    await this.repo.backend.remove({ type: 'lock', name: this.id });
  }
}

function newLockData(exclusive: boolean): LockData {
  const info = safeUserInfo();
  const data: LockData = { time: new Date().toISOString(), exclusive, hostname: os.hostname(), username: info.username, pid: process.pid };
  if (info.uid) data.uid = info.uid;
  if (info.gid) data.gid = info.gid;
  return data;
}

function safeUserInfo(): { username: string; uid: number; gid: number } {
  try {
    const u = os.userInfo();
    return { username: u.username, uid: u.uid, gid: u.gid };
  } catch {
    return { username: 'unknown', uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 };
  }
}

/** Removes stale locks (or all with `all`); returns the ids removed. */
export async function removeLocks(repo: Repository, all: boolean): Promise<string[]> {
  const removed: string[] = [];
  for (const id of await repo.listIds('lock')) {
    let stale = all;
    if (!all) {
      try {
        stale = isStaleLock(decodeLock(await repo.loadJsonFile('lock', id)));
      } catch {
        stale = false;
      }
    }
    if (stale) {
      await repo.backend.remove({ type: 'lock', name: id });
      removed.push(id);
    }
  }
  return removed;
}
