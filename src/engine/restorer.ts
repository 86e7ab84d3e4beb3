// Restore of a snapshot (or a part of it) into a directory, as restic does it
// (format §10.8): plan first, create directories and empty files, then fetch
// the data pack by pack (each needed blob read and decrypted once, written to
// every place it belongs, memory bounded by a few ranges), then hard links,
// then metadata with directories last. Problems with single entries (refused
// names, damaged blobs, failed chown) are reported and the rest continues.
import { spawn } from 'node:child_process';
import fsSync, { constants as fsConstants, promises as fs } from 'node:fs';
import path from 'node:path';
import { CairnError, describeError, isErrno } from '../errors.js';
import type { BlobLocation } from '../repo/masterIndex.js';
import { unixPermissions, type Node } from '../repo/node.js';
import { packJobsInFlight, startPackWorkers, writePackBlobs, writePlaintext, type BlobWrite, type FileFinish, type RangeFile, type WriteRangeResult } from '../repo/packReader.js';
import { mapLimit, type Repository } from '../repo/repository.js';
import type { Snapshot } from '../repo/snapshot.js';
import { parseGoTime } from '../repo/timeFormat.js';
import { PathFilter } from './pathFilter.js';
import { planRestore, type PlanEntry, type PlanRoot } from './restorePlan.js';
import { ExactTimeSetter, exactUtimesValue, type ExactTimeMethod, type FsPath } from './setTimes.js';
import { findNode } from './treeWalker.js';

/** SHA-256 of 512 KiB of zeros: the chunk a run of zeros is cut into (format §18). */
export const zeroChunkId = '07854d2fef297a06ba81685e660c332de36d5d18d546927d30daad6d7fda1541';

/** Options of restoreSnapshot. */
export interface RestoreOptions {
  /** Directory to restore into (created when missing). */
  target: string;
  /** Restore only this path of the snapshot (`/home/u/docs`): a directory's contents, or a single entry. */
  subpath?: string;
  /** Restore only entries matching one of these patterns (restic --include rules). */
  include?: string[];
  /** Skip entries matching one of these patterns (restic --exclude rules). */
  exclude?: string[];
  /** Leave all-zero 512 KiB chunks as holes instead of writing zeros. */
  sparse?: boolean;
  /** Set owner and group from the snapshot; default: when running as root. */
  owners?: boolean;
  /** Restore extended attributes (needs `setfattr`); default true. */
  xattrs?: boolean;
  /** How exact nanosecond times are written (tests choose; default auto). */
  timeMethod?: ExactTimeMethod;
  onProgress?: (p: RestoreProgress) => void;
  /** Called for each problem as it happens (path below the restore root, details). */
  onError?: (path: string, error: RestoreError) => void;
}

/** Progress of a restore. */
export interface RestoreProgress {
  phase: 'plan' | 'create' | 'data' | 'metadata' | 'done';
  filesDone: number;
  filesTotal: number;
  bytesDone: number;
  bytesTotal: number;
}

/** One entry that could not be restored (or not completely). */
export interface RestoreError {
  /** The entry's path below the restore root (`/a/b`). */
  path: string;
  code: string;
  message: string;
  remedy: string;
  /** The data blob that could not be read, for damaged or missing data. */
  blobId?: string;
  packId?: string;
}

/** What a restore did. Any error means exit code 1 for the CLI. */
export interface RestoreSummary {
  files: number;
  dirs: number;
  symlinks: number;
  /** fifos and devices. */
  special: number;
  /** Sockets and irregular entries, which cannot be restored. */
  skipped: number;
  /** Bytes of file content restored. */
  bytes: number;
  errors: RestoreError[];
  /** Things not done for a reason that is not a failure (e.g. no setfattr). */
  warnings: string[];
}

/** A file to write: where its blobs go, and how far it got. */
interface FileState {
  /** Index of the file's plan entry. */
  index: number;
  entry: PlanEntry;
  size: number;
  blobs: { id: string; offset: number; size: number }[];
  /** Blobs not yet written (or given up). */
  remaining: number;
  /** Some content could not be restored (already reported). */
  failed: boolean;
  /** The file exists in the target: some blob was written to it (the first writer created it). */
  exists: boolean;
  /** Times a pack worker that finishes the file cannot set exactly (they go to the exact setter). */
  timesLater?: { atimeNs: bigint; mtimeNs: bigint };
  /** Places its data is written to, in all pack jobs (a job holding all of them finishes the file). */
  writes: number;
  /** Creating or writing it failed (already reported): nothing more is written to it. */
  broken: boolean;
}

interface BlobUse {
  file: FileState;
  offset: number;
}

interface NeededBlob {
  id: string;
  loc: BlobLocation;
  size: number;
  uses: BlobUse[];
}

/**
 * Longest pack range read at once (a longer blob is read alone). Each range in
 * flight is held by the main thread or a worker; 2 MiB keeps that memory small
 * (a file spread over many ranges costs one more open per range, microseconds).
 */
const maxRange = 2 * 1024 * 1024;
const maxGap = 256 * 1024;
const fsConcurrency = 16;
const dataRemedy = 'The other files were restored. Run `cairn check --read-data` to find damaged packs; restore this file from another snapshot or repository copy.';

/**
 * Restores `source` (a snapshot, or a tree id) into `opts.target`. Refused
 * names, unreadable data and metadata failures are collected in the summary
 * (and passed to onError) while the rest is restored; only a problem with the
 * target itself or a wrong subpath throws.
 */
export async function restoreSnapshot(repo: Repository, source: Snapshot | string, opts: RestoreOptions): Promise<RestoreSummary> {
  startPackWorkers(); // they start up while the index is loaded and the restore planned
  await repo.loadIndex();
  const target = path.resolve(opts.target);
  let targetEmpty: boolean;
  try {
    await fs.mkdir(target, { recursive: true });
    targetEmpty = (await fs.readdir(target)).length === 0;
  } catch (err) {
    throw new CairnError('target-unusable', `cannot create the restore target ${target}: ${describeError(err)}`, 'Choose a target directory you can write to with --target.');
  }

  const rootTree = typeof source === 'string' ? source : source.tree;
  let root: PlanRoot = { treeId: rootTree };
  if (opts.subpath && opts.subpath.replace(/\/+/g, '') !== '') {
    const found = await findNode(repo, rootTree, opts.subpath);
    if (!found) {
      throw new CairnError('path-not-found', `the snapshot has no ${opts.subpath}`, 'List the snapshot with `cairn ls SNAPSHOT` and give a path it prints.');
    }
    root = found.treeId ? { treeId: found.treeId } : { node: found.node! };
  }
  const run = new RestoreRun(repo, opts, targetEmpty);
  run.tick('plan');
  const filter = new PathFilter({ include: opts.include, exclude: opts.exclude });
  run.entries = await planRestore(repo, root, {
    target,
    filter,
    onProblem: (p) => run.report({ path: p.path, code: p.code, message: p.message, remedy: p.remedy }),
  });
  await run.restore();
  return run.summary;
}

function fsPathText(p: FsPath): string {
  return typeof p === 'string' ? p : p.toString('utf8');
}

function errorFor(e: PlanEntry, what: string, err: unknown, code = 'restore-failed'): RestoreError {
  return {
    path: e.rel,
    code: err instanceof CairnError ? err.code : code,
    message: `cannot ${what} ${JSON.stringify(e.rel)}: ${describeError(err)}`,
    remedy: err instanceof CairnError ? err.remedy : 'Check free space and permissions in the target directory, then restore again.',
  };
}

async function clearPath(p: FsPath): Promise<void> {
  try {
    await fs.unlink(p);
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return;
    if (isErrno(err, 'EISDIR') || isErrno(err, 'EPERM')) {
      throw new CairnError('target-in-the-way', `a directory is in the way at ${fsPathText(p)}`, 'Remove or rename that directory in the target, or restore into an empty directory.');
    }
    throw err;
  }
}

/** Creates a directory; true when it is new (so empty: nothing inside needs clearing). */
async function makeDir(p: FsPath): Promise<boolean> {
  try {
    await fs.mkdir(p, 0o700);
    return true;
  } catch (err) {
    if (!isErrno(err, 'EEXIST')) throw err;
    const st = await fs.lstat(p);
    if (st.isDirectory()) return false;
    // A file or symlink in the way is replaced: never write through a symlink.
    await fs.unlink(p);
    await fs.mkdir(p, 0o700);
    return true;
  }
}

// O_EXCL|O_NOFOLLOW: a file is always new, never something reached through a symlink.
const createFlags = fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_NOFOLLOW;
const writeFlags = fsConstants.O_WRONLY | fsConstants.O_NOFOLLOW;

function linkTargetOf(node: Node): FsPath {
  if (node.linktarget_raw) return Buffer.from(node.linktarget_raw, 'base64');
  return node.linktarget ?? '';
}

function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

/** Linux dev_t → major/minor (glibc's gnu_dev_major/minor). */
function majorMinor(dev: bigint): [bigint, bigint] {
  const major = ((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn);
  const minor = (dev & 0xffn) | ((dev >> 12n) & ~0xffn);
  return [major, minor];
}

function runCommand(cmd: string, args: string[]): Promise<string | undefined> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    const err: Buffer[] = [];
    child.stderr.on('data', (d: Buffer) => err.push(d));
    child.on('error', (e) => resolve(describeError(e)));
    child.on('close', (code) => resolve(code === 0 ? undefined : Buffer.concat(err).toString('utf8').trim() || `${cmd} exited with ${code}`));
  });
}

/** One restore: the plan, what exists so far, the summary and progress. */
class RestoreRun {
  entries: PlanEntry[] = [];
  readonly summary: RestoreSummary = { files: 0, dirs: 0, symlinks: 0, special: 0, skipped: 0, bytes: 0, errors: [], warnings: [] };
  private readonly progress: RestoreProgress = { phase: 'plan', filesDone: 0, filesTotal: 0, bytesDone: 0, bytesTotal: 0 };
  /** Entries that exist in the target now. */
  private created: boolean[] = [];
  /** Directories made by this run (empty when made, so nothing inside needs clearing first). */
  private fresh: boolean[] = [];
  private files = new Map<number, FileState>();
  /** Entries whose owner, times and mode were set as soon as their data was written. */
  private metaDone: boolean[] = [];
  /** Early metadata still being written (lutimes runs on the thread pool); settled ones leave the set. */
  private readonly earlyTimes = new Set<Promise<void>>();
  /** Entries other names are hard links to (their metadata waits until the links exist). */
  private linkTargets = new Set<number>();
  private readonly owners: boolean;
  private readonly times: ExactTimeSetter;

  constructor(
    private readonly repo: Repository,
    private readonly opts: RestoreOptions,
    private readonly targetEmpty: boolean,
  ) {
    this.owners = opts.owners ?? isRoot();
    this.times = new ExactTimeSetter(opts.timeMethod);
  }

  /** Records a problem and tells the caller right away. */
  report(e: RestoreError): void {
    this.summary.errors.push(e);
    this.opts.onError?.(e.path, e);
  }

  tick(phase?: RestoreProgress['phase']): void {
    if (phase) this.progress.phase = phase;
    this.opts.onProgress?.({ ...this.progress });
  }

  async restore(): Promise<void> {
    this.created = new Array<boolean>(this.entries.length).fill(false);
    this.fresh = new Array<boolean>(this.entries.length).fill(false);
    this.metaDone = new Array<boolean>(this.entries.length).fill(false);
    for (const e of this.entries) if (e.linkTo !== undefined) this.linkTargets.add(e.linkTo);
    this.prepareFiles();
    this.progress.filesTotal = this.entries.filter((e) => e.kind === 'file').length;
    this.progress.bytesTotal = [...this.files.values()].reduce((n, f) => n + f.size, 0);
    this.tick('create');
    await this.createEntries();
    this.tick('data');
    await this.restoreData();
    await this.finishFiles();
    await this.createHardLinks();
    this.progress.filesDone = this.progress.filesTotal;
    this.tick('metadata');
    await this.restoreMetadata();
    this.tick('done');
  }

  private parentExists(e: PlanEntry): boolean {
    return e.parent < 0 || this.created[e.parent]!;
  }

  /** Whether something may already sit at the entry's path (its folder existed before this run). */
  private mayExist(e: PlanEntry): boolean {
    return e.parent < 0 ? !this.targetEmpty : !this.fresh[e.parent];
  }

  /** Computes each file's blob offsets and size from the index; files whose blobs are unknown are reported. */
  private prepareFiles(): void {
    this.entries.forEach((e, i) => {
      if (e.kind !== 'file' || e.linkTo !== undefined) return;
      const blobs: FileState['blobs'] = [];
      let offset = 0;
      let failed = false;
      for (const id of e.node.content ?? []) {
        const size = this.repo.index.plaintextSize('data', id);
        if (size === undefined) {
          this.report({
            path: e.rel,
            code: 'missing-blob',
            blobId: id,
            message: `file ${JSON.stringify(e.rel)} is incomplete: data blob ${id} is not in the repository index`,
            remedy: dataRemedy,
          });
          failed = true;
          break;
        }
        blobs.push({ id, offset, size });
        offset += size;
      }
      const size = failed ? Math.max(offset, e.node.size ?? 0) : offset;
      this.files.set(i, { index: i, entry: e, size, blobs, remaining: blobs.length, writes: 0, failed, exists: false, broken: false });
    });
  }

  /**
   * Creates directories, symlinks, fifos and devices, parents before
   * children, several at a time. Files are created by the first write of
   * their data (empty ones at the end), saving an open and close each.
   */
  private async createEntries(): Promise<void> {
    const entries = this.entries;
    const ready = new Array<Promise<boolean>>(entries.length);
    const fifos: number[] = [];
    const root = isRoot();

    const createOne = async (e: PlanEntry, i: number): Promise<boolean> => {
      if (e.parent >= 0 && !(await ready[e.parent])) return false;
      try {
        switch (e.kind) {
          case 'dir':
            this.fresh[i] = await makeDir(e.path);
            this.summary.dirs++;
            return true;
          case 'file':
            return false; // created with its data, or linked afterwards
          case 'symlink':
            if (this.mayExist(e)) await clearPath(e.path);
            await fs.symlink(linkTargetOf(e.node), e.path);
            this.summary.symlinks++;
            return true;
          case 'fifo':
            if (this.mayExist(e)) await clearPath(e.path);
            fifos.push(i);
            return false;
          case 'device': {
            if (!root) {
              this.report({ path: e.rel, code: 'needs-root', message: `device ${JSON.stringify(e.rel)} not created: creating device nodes needs root`, remedy: 'Restore as root to recreate device nodes.' });
              return false;
            }
            if (typeof e.path !== 'string') throw new Error('device names that are not valid UTF-8 are not supported');
            if (this.mayExist(e)) await clearPath(e.path);
            const [major, minor] = majorMinor(e.node.device ?? 0n);
            const error = await runCommand('mknod', ['-m', '600', '--', e.path, e.node.type === 'chardev' ? 'c' : 'b', String(major), String(minor)]);
            if (error) throw new Error(error);
            this.summary.special++;
            return true;
          }
          default:
            // restic skips sockets and irregular files too.
            this.summary.skipped++;
            return false;
        }
      } catch (err) {
        this.report(errorFor(e, e.kind === 'dir' ? 'create directory' : 'create', err));
        return false;
      }
    };

    await mapLimit(entries, fsConcurrency, (e, i) => {
      const p = createOne(e, i);
      ready[i] = p;
      return p.then((ok) => {
        this.created[i] = ok;
      });
    });

    // Node has no mkfifo: one `mkfifo` call per batch of paths.
    const named = fifos.filter((i) => typeof entries[i]!.path === 'string');
    for (const i of fifos) if (typeof entries[i]!.path !== 'string') this.report(errorFor(entries[i]!, 'create fifo', new Error('fifo names that are not valid UTF-8 are not supported')));
    for (let k = 0; k < named.length; k += 200) {
      const batch = named.slice(k, k + 200);
      const error = await runCommand('mkfifo', ['-m', '600', '--', ...batch.map((i) => entries[i]!.path as string)]);
      for (const i of batch) {
        const failed = error ? await fs.lstat(entries[i]!.path).then((st) => !st.isFIFO(), () => true) : false;
        if (failed) this.report(errorFor(entries[i]!, 'create fifo', new Error(error ?? 'mkfifo failed')));
        else {
          this.created[i] = true;
          this.summary.special++;
        }
      }
    }
  }

  /** How a file is created by its first writer: holes stay holes (sparse chunks are never written, and a file missing data keeps its recorded size). */
  private rangeFile(f: FileState, allOfIt = false): RangeFile {
    const r: RangeFile = this.opts.sparse || f.failed ? { path: f.entry.path, sizeOnCreate: f.size } : { path: f.entry.path };
    if (allOfIt && this.mayFinishEarly(f)) r.finish = this.fileFinish(f);
    return r;
  }

  /**
   * Whether a file's owner, times and mode may be set as soon as its data is
   * written: not for files with extended attributes (set before the mode, at
   * the end), files other names link to, or files with lost data.
   */
  private mayFinishEarly(f: FileState): boolean {
    if (f.failed || f.broken || this.linkTargets.has(f.index)) return false;
    return this.opts.xattrs === false || (f.entry.node.extended_attributes?.length ?? 0) === 0;
  }

  /** What a pack worker sets on a file it writes all of: owner, mode, and times when lutimes-style seconds are exact. */
  private fileFinish(f: FileState): FileFinish {
    const node = f.entry.node;
    const m: FileFinish = { mode: unixPermissions(node.mode ?? 0) };
    if (this.owners) {
      m.uid = node.uid;
      m.gid = node.gid;
    }
    const t = nodeTimes(node);
    const a = t && exactUtimesValue(t.atimeNs);
    const mt = t && exactUtimesValue(t.mtimeNs);
    if (a !== undefined && mt !== undefined) {
      m.atime = a;
      m.mtime = mt;
    } else f.timesLater = t;
    return m;
  }

  /** Takes in what a pack job did to the files it wrote. */
  private settleFiles(r: WriteRangeResult, files: FileState[]): void {
    for (const k of r.created) files[k]!.exists = true;
    for (const k of r.written) files[k]!.exists = true;
    for (const k of r.finished) {
      const f = files[k]!;
      this.metaDone[f.index] = true;
      const t = f.timesLater;
      // times the worker could not set exactly go to the exact setter (perl), queued now
      if (t) void this.times.set({ path: f.entry.path, ...t }).catch((err: unknown) => this.report(errorFor(f.entry, 'set times of', err)));
    }
    for (const e of r.metaErrors) this.report(errorFor(files[e.file]!.entry, e.what, Object.assign(new Error(e.message), { code: e.code })));
    for (const e of r.fileErrors) {
      const f = files[e.file]!;
      if (!f.broken) this.report(errorFor(f.entry, e.op === 'create' ? 'create' : 'write', Object.assign(new Error(e.message), { code: e.code })));
      f.broken = true;
      f.failed = true;
    }
  }

  /**
   * Reads every needed blob once, pack by pack (nearby blobs in one ranged
   * read), and has a pack worker write it at each offset of each file that
   * contains it; the first writer of a file creates it.
   */
  private async restoreData(): Promise<void> {
    const repo = this.repo;
    const byPack = new Map<string, Map<string, NeededBlob>>();
    for (const f of this.files.values()) {
      if (!this.parentExists(f.entry)) continue;
      if (this.mayExist(f.entry)) {
        // Whatever is in the way goes first (never write through a symlink or into another file's inode).
        try {
          await clearPath(f.entry.path);
        } catch (err) {
          this.report(errorFor(f.entry, 'create', err));
          f.broken = true;
          f.failed = true;
          continue;
        }
      }
      for (const b of f.blobs) {
        if (this.opts.sparse && b.id === zeroChunkId) {
          f.remaining--; // left as a hole: the file is created at full size
          continue;
        }
        const loc = repo.index.lookup('data', b.id)[0]!;
        let pack = byPack.get(loc.packId);
        if (!pack) byPack.set(loc.packId, (pack = new Map()));
        let need = pack.get(b.id);
        if (!need) pack.set(b.id, (need = { id: b.id, loc, size: b.size, uses: [] }));
        need.uses.push({ file: f, offset: b.offset });
        f.writes++;
      }
    }

    const damaged = new Set<string>();
    const fail = (blob: NeededBlob, err: unknown): void => {
      for (const u of blob.uses) {
        u.file.failed = true;
        const key = u.file.entry.rel + '\0' + blob.id;
        if (damaged.has(key)) continue;
        damaged.add(key);
        this.report({
          path: u.file.entry.rel,
          code: err instanceof CairnError ? err.code : 'blob-unreadable',
          blobId: blob.id,
          packId: blob.loc.packId,
          message: `file ${JSON.stringify(u.file.entry.rel)} is incomplete: data blob ${blob.id} (pack ${blob.loc.packId.slice(0, 8)}) cannot be read: ${describeError(err)}`,
          remedy: dataRemedy,
        });
      }
    };
    const used = (blob: NeededBlob, ok: boolean): void => {
      for (const u of blob.uses) {
        if (ok) this.progress.bytesDone += blob.size;
        if (--u.file.remaining === 0) {
          this.progress.filesDone++;
          this.fileDone(u.file);
        }
      }
    };

    /** A blob the pack job could not use: other copies are tried (clearer errors too), and it is written from here. */
    const retry = async (blob: NeededBlob): Promise<void> => {
      let plain: Buffer;
      try {
        plain = await repo.loadBlob('data', blob.id);
      } catch (err) {
        fail(blob, err);
        used(blob, false);
        return;
      }
      const files: FileState[] = [];
      const targets: number[] = [];
      for (const u of blob.uses) {
        if (u.file.broken) continue;
        targets.push(files.length, u.offset);
        files.push(u.file);
      }
      this.settleFiles(writePlaintext(plain, targets, files.map((f) => this.rangeFile(f))), files);
      used(blob, true);
    };

    const jobs: { packId: string; blobs: NeededBlob[] }[] = [];
    for (const packId of [...byPack.keys()].sort()) {
      const blobs = [...byPack.get(packId)!.values()].sort((a, b) => a.loc.offset - b.loc.offset);
      for (const range of groupRanges(blobs)) jobs.push({ packId, blobs: range });
    }
    await mapLimit(jobs, packJobsInFlight(), async ({ packId, blobs }) => {
      const files: FileState[] = [];
      const slot = new Map<FileState, number>();
      const writes: BlobWrite[] = blobs.map((b) => {
        const targets: number[] = [];
        for (const u of b.uses) {
          if (u.file.broken) continue;
          let k = slot.get(u.file);
          if (k === undefined) {
            slot.set(u.file, (k = files.length));
            files.push(u.file);
          }
          targets.push(k, u.offset);
        }
        const w: BlobWrite = { id: b.id, offset: b.loc.offset, length: b.loc.length, targets };
        if (b.loc.uncompressedLength) w.uncompressedLength = b.loc.uncompressedLength;
        return w;
      });
      let r: WriteRangeResult;
      try {
        const inJob = new Array<number>(files.length).fill(0);
        for (const w of writes) for (let k = 0; k < w.targets.length; k += 2) inJob[w.targets[k]!]!++;
        r = await writePackBlobs(
          repo,
          packId,
          writes,
          files.map((f, k) => this.rangeFile(f, inJob[k] === f.writes)),
        );
      } catch {
        // the range could not be read: each blob on its own (other copies, clearer errors)
        for (const b of blobs) await retry(b);
        this.tick();
        return;
      }
      this.settleFiles(r, files);
      const bad = new Set<number>();
      for (const x of r.failed) bad.add(x.blob);
      for (let i = 0; i < blobs.length; i++) {
        if (bad.has(i)) await retry(blobs[i]!);
        else used(blobs[i]!, true);
      }
      this.tick();
    });
  }

  /** Creates the files no blob was written to (empty, all holes, or all data lost) and settles which files exist. */
  private async finishFiles(): Promise<void> {
    await mapLimit([...this.files.values()], fsConcurrency, async (f) => {
      if (!this.parentExists(f.entry)) return;
      if (!f.exists && !f.broken) {
        try {
          const fd = fsSync.openSync(f.entry.path, createFlags, 0o600);
          try {
            if (f.size > 0 && (this.opts.sparse || f.failed)) fsSync.ftruncateSync(fd, f.size);
          } finally {
            fsSync.closeSync(fd);
          }
          f.exists = true;
        } catch (err) {
          this.report(errorFor(f.entry, 'create', err));
        }
      }
      this.created[f.index] = f.exists;
      if (!f.exists) return;
      this.summary.files++;
      this.summary.bytes += f.size;
      if (f.failed && f.size > 0) {
        // Lost data stays a hole, but the file keeps its recorded size.
        try {
          const fd = fsSync.openSync(f.entry.path, writeFlags);
          try {
            if (fsSync.fstatSync(fd).size < f.size) fsSync.ftruncateSync(fd, f.size);
          } finally {
            fsSync.closeSync(fd);
          }
        } catch (err) {
          this.report(errorFor(f.entry, 'resize', err));
        }
      }
    });
  }

  /** Links later names of a hard-linked file to the first one, now that it has its content. */
  private async createHardLinks(): Promise<void> {
    await mapLimit(this.entries, fsConcurrency, async (e, i) => {
      if (e.linkTo === undefined || !this.parentExists(e)) return;
      const first = this.entries[e.linkTo]!;
      if (!this.created[e.linkTo]) {
        this.report(errorFor(e, 'create hard link', new Error(`the first name of this file, ${first.rel}, was not restored`)));
        return;
      }
      try {
        if (this.mayExist(e)) await clearPath(e.path);
        await fs.link(first.path, e.path);
        this.created[i] = true;
        this.summary.files++;
      } catch (err) {
        this.report(errorFor(e, 'create hard link', err));
      }
    });
  }

  /**
   * Metadata in restic's order — owner, xattrs, times, mode — with every
   * directory's mode set last and deepest first, so nothing written later
   * changes a directory's mtime and restrictive modes do not block the rest.
   */
  private async restoreMetadata(): Promise<void> {
    const entries = this.entries;
    // A later name of a hard link is the same inode as the first: nothing more to set.
    const todo = entries.map((_, i) => i).filter((i) => this.created[i] && entries[i]!.linkTo === undefined && !this.metaDone[i]);

    if (this.opts.xattrs !== false) await this.restoreXattrs(todo);

    const nonDirs = todo.filter((i) => entries[i]!.kind !== 'dir');
    const dirs = todo.filter((i) => entries[i]!.kind === 'dir');
    await mapLimit(nonDirs, fsConcurrency, async (i) => {
      await this.setOwnerAndTimes(i);
      this.setMode(i);
    });
    await mapLimit(dirs, fsConcurrency, (i) => this.setOwnerAndTimes(i));
    await Promise.all([...this.earlyTimes]);
    const byPath = new Map<FsPath, number>();
    entries.forEach((e, i) => {
      if (this.created[i] && e.linkTo === undefined) byPath.set(e.path, i);
    });
    for (const f of await this.times.flush()) {
      const i = byPath.get(f.path);
      this.report(i !== undefined ? errorFor(entries[i]!, 'set times of', new Error(f.message)) : { path: fsPathText(f.path), code: 'restore-failed', message: f.message, remedy: '' });
    }
    const deepestFirst = [...dirs].sort((a, b) => entries[b]!.depth - entries[a]!.depth);
    let k = 0;
    while (k < deepestFirst.length) {
      const depth = entries[deepestFirst[k]!]!.depth;
      const level: number[] = [];
      while (k < deepestFirst.length && entries[deepestFirst[k]!]!.depth === depth) level.push(deepestFirst[k++]!);
      for (const i of level) this.setMode(i);
    }
  }

  /** Owner (when restoring owners), then times (exact ones may be finished by times.flush()). */
  private async setOwnerAndTimes(i: number): Promise<void> {
    const e = this.entries[i]!;
    try {
      if (this.owners) fsSync.lchownSync(e.path, e.node.uid, e.node.gid);
    } catch (err) {
      this.report(errorFor(e, 'set owner of', err));
    }
    const t = nodeTimes(e.node);
    if (t) {
      try {
        await this.times.set({ path: e.path, ...t });
      } catch (err) {
        this.report(errorFor(e, 'set times of', err));
      }
    }
  }

  private setMode(i: number): void {
    const e = this.entries[i]!;
    // mode is omitted from the tree JSON when it is 0 (Go's omitempty): a missing mode means 0000
    if (e.kind === 'symlink') return;
    try {
      fsSync.chmodSync(e.path, unixPermissions(e.node.mode ?? 0));
    } catch (err) {
      this.report(errorFor(e, 'set mode of', err));
    }
  }

  /**
   * Owner, times and mode of a file whose data is all written, right away:
   * the main thread does it while the workers write other files, instead of
   * in a pass of its own at the end. Files with extended attributes (set
   * before the mode), files other names link to, and files with lost data
   * wait for the final pass.
   */
  private fileDone(f: FileState): void {
    if (this.metaDone[f.index] || !f.exists || !this.mayFinishEarly(f)) return;
    this.metaDone[f.index] = true;
    const p = this.setOwnerAndTimes(f.index).then(() => this.setMode(f.index));
    this.earlyTimes.add(p);
    void p.then(() => this.earlyTimes.delete(p));
  }

  /**
   * Node has no xattr API: all extended attributes go to one `setfattr
   * --restore` run (package attr). When it reports a failure, each entry is
   * retried alone so the error names the entry.
   */
  private async restoreXattrs(todo: number[]): Promise<void> {
    const entries = this.entries;
    const list = todo.filter((i) => (entries[i]!.node.extended_attributes?.length ?? 0) > 0);
    if (list.length === 0) return;
    const all = await setfattr(xattrDump(entries, list));
    if (all.missing) {
      this.summary.warnings.push(`extended attributes of ${list.length} entr${list.length === 1 ? 'y were' : 'ies were'} not restored: setfattr is not installed (Debian package attr)`);
      return;
    }
    if (!all.error) return;
    for (const i of list) {
      const one = await setfattr(xattrDump(entries, [i]));
      if (one.error) this.report(errorFor(entries[i]!, 'set extended attributes of', new Error(one.error.replace(/^setfattr: /, ''))));
    }
  }
}

/** Groups blobs sorted by offset into ranges worth one read each. */
function groupRanges(blobs: NeededBlob[]): NeededBlob[][] {
  const out: NeededBlob[][] = [];
  let cur: NeededBlob[] = [];
  let start = 0;
  let end = 0;
  for (const b of blobs) {
    const bEnd = b.loc.offset + b.loc.length;
    if (cur.length > 0 && (b.loc.offset - end > maxGap || bEnd - start > maxRange)) {
      out.push(cur);
      cur = [];
    }
    if (cur.length === 0) start = b.loc.offset;
    cur.push(b);
    end = Math.max(end, bEnd);
  }
  if (cur.length > 0) out.push(cur);
  return out;
}

/** Node times in epoch ns, or undefined for Go's zero time and unparsable text (nothing to set). */
const goZeroTimeNs = parseGoTime('0001-01-01T00:00:00Z').epochNs;

function nodeTimes(node: Node): { atimeNs: bigint; mtimeNs: bigint } | undefined {
  try {
    const m = parseGoTime(node.mtime).epochNs;
    const a = node.atime ? parseGoTime(node.atime).epochNs : m;
    const zero = goZeroTimeNs;
    if (m === zero) return undefined;
    return { atimeNs: a === zero ? m : a, mtimeNs: m };
  } catch {
    return undefined;
  }
}

/** getfattr/setfattr's path quoting: anything unusual as a 3-digit octal escape. */
function quoteAttrText(b: Buffer): string {
  let out = '';
  for (const c of b) out += (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x2f || c === 0x2e || c === 0x5f || c === 0x2d ? String.fromCharCode(c) : '\\' + c.toString(8).padStart(3, '0');
  return out;
}

function xattrDump(entries: PlanEntry[], list: number[]): string {
  let dump = '';
  for (const i of list) {
    const e = entries[i]!;
    dump += `# file: ${quoteAttrText(typeof e.path === 'string' ? Buffer.from(e.path, 'utf8') : e.path)}\n`;
    for (const a of e.node.extended_attributes ?? []) {
      dump += `${quoteAttrText(Buffer.from(a.name, 'utf8'))}=${a.value === '' ? '""' : '0s' + a.value}\n`;
    }
    dump += '\n';
  }
  return dump;
}

function setfattr(dump: string): Promise<{ missing: boolean; error?: string }> {
  return new Promise((resolve) => {
    const child = spawn('setfattr', ['-h', '--restore=-'], { stdio: ['pipe', 'ignore', 'pipe'] });
    const err: Buffer[] = [];
    child.stderr.on('data', (d: Buffer) => err.push(d));
    child.stdin.on('error', () => undefined);
    child.on('error', (e) => resolve({ missing: isErrno(e, 'ENOENT'), error: describeError(e) }));
    child.on('close', (code) => resolve({ missing: false, error: code === 0 ? undefined : Buffer.concat(err).toString('utf8').trim() || `setfattr exited with ${code}` }));
    child.stdin.end(dump);
  });
}
