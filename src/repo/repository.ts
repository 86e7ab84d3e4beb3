import { randomBytes } from 'node:crypto';
import type { Backend, FileType } from '../backend/backend.js';
import { CairnError, ExitCode } from '../errors.js';
import type { CryptoKey } from '../crypto/masterKey.js';
import { newMasterKey } from '../crypto/masterKey.js';
import { open, seal, sealOverhead, MacError } from '../crypto/sealedBox.js';
import { createKeyFile, openKeyFile, defaultKdfParams, type KdfParams, type KeyFileData } from '../crypto/keyFile.js';
import { BlobDecodeError, decodeBlob, encodeBlob, type CompressionMode, type EncodedBlob } from './blobCodec.js';
import { BlobCodecPool, WorkerDecodeError, type FileChunk, type KeptBlob } from './blobCodecPool.js';
import { sha256Hex, type BlobType } from './ids.js';
import { isIrreducible } from '../chunker/polynomial.js';
import { MasterIndex, type BlobLocation } from './masterIndex.js';
import { defaultPackSize } from './packWriter.js';
import { PackFileWriter, type StagedPack } from './packFileWriter.js';
import { removeStaged, trackStaged } from '../backend/staging.js';
import type { PackedBlob } from './pack.js';
import { decodeUnpacked, encodeUnpacked } from './unpacked.js';
import { decodeIndex, encodeIndex, type IndexPack } from './indexCodec.js';
import { decodeTree, encodeTree } from './treeCodec.js';
import { decodeSnapshot, encodeSnapshot } from './snapshotCodec.js';
import type { Node, Tree } from './node.js';
import type { Snapshot, SnapshotData } from './snapshot.js';

/** The repository config (format §4). */
export interface RepoConfig {
  version: number;
  id: string;
  chunker_polynomial: string;
}

/** Options for creating a repository. */
export interface InitOptions {
  /** Chunker polynomial (hex) to use, e.g. copied from another repository so both dedup alike. */
  polynomial?: string;
  kdf?: KdfParams;
  /** Generates a fresh irreducible polynomial; injected so the repo layer needs no chunker import. */
  newPolynomial: () => string;
}

/** Options for how blobs are written. */
export interface WriteOptions {
  /** 'auto' compresses data blobs (restic's default), 'off' stores them raw, 'max' uses a high zstd level. */
  compression?: 'auto' | 'off' | 'max';
  packSize?: number;
}

/** What saveBlob did. */
export interface SaveResult {
  id: string;
  /** False when the blob was already stored (deduplicated). */
  added: boolean;
  /** Bytes added to the repository (sealed, maybe compressed); 0 when deduplicated. */
  storedSize: number;
  /** The blob's plaintext length. */
  length: number;
}

const maxKeysTried = 20;
/** restic 0.14 starts a new index file after this many blobs in compressed repositories; we use current restic's figure. */
const indexBlobLimit = 50_000;
/** Data blobs from this size on are hashed, compressed and sealed on worker threads; smaller ones cost less here than a message. */
const workerMinBlob = 16 * 1024;

/** Packs uploaded at once: two hide a remote store's latency; a local disk gains nothing from more than one and each costs a pack of memory. */
function maxParallelUploads(backend: Backend): number {
  return backend.location.startsWith('/') ? 1 : 2;
}

/**
 * An open restic v2 repository: the only place that knows the on-disk format.
 * Above it nothing parses the format's JSON or touches pack bytes.
 */
export class Repository {
  readonly backend: Backend;
  readonly key: CryptoKey;
  readonly config: RepoConfig;
  /** The key file that opened this repository. */
  readonly keyId: string;
  readonly index = new MasterIndex();
  private indexLoaded = false;
  private compression: CompressionMode = 'auto';
  private codecPool: BlobCodecPool | undefined;
  private packSize = defaultPackSize;
  /** This thread's packs (trees, small data blobs), written to staged files as they fill; made on first use. */
  private writerOf: Partial<Record<BlobType, PackFileWriter>> = {};
  private readonly inFlight = new Set<string>();
  private readonly uploads = new Set<Promise<void>>();
  private uploadError: unknown;
  private pendingIndex: IndexPack[] = [];
  private pendingIndexBlobs = 0;
  /** Index files this session wrote. */
  readonly writtenIndexes: string[] = [];

  private constructor(backend: Backend, key: CryptoKey, config: RepoConfig, keyId: string) {
    this.backend = backend;
    this.key = key;
    this.config = config;
    this.keyId = keyId;
  }

  /** Opens an existing repository with a password, trying every key file as restic does. */
  static async open(backend: Backend, password: string): Promise<Repository> {
    if (!(await backend.exists({ type: 'config', name: 'config' }))) {
      // the backend may know more precisely what is missing (an S3 bucket, a remote folder)
      const precise = await backend.stat({ type: 'config', name: 'config' }).then(
        () => undefined,
        (err: unknown) => (err instanceof CairnError && err.code !== 'no-repository' && err.code !== 'not-found' ? err : undefined),
      );
      if (precise) throw precise;
      throw new CairnError('no-repository', `no repository at ${backend.location} (config file missing)`, 'Check the location given with -r/--repo or CAIRN_REPOSITORY, or create a repository there with `cairn init`.', ExitCode.noRepository);
    }
    let tried = 0;
    for await (const info of backend.list('key')) {
      if (tried++ >= maxKeysTried) break;
      let data: KeyFileData;
      try {
        data = JSON.parse((await backend.read({ type: 'key', name: info.name })).toString('utf8')) as KeyFileData;
      } catch {
        continue;
      }
      const master = await openKeyFile(data, password).catch(() => null);
      if (!master) continue;
      const config = await Repository.readConfig(backend, master);
      return new Repository(backend, master, config, info.name);
    }
    throw new CairnError('wrong-password', `wrong password or no key found for ${backend.location}`, 'Give the repository password with --password-file FILE, --password-command CMD or CAIRN_PASSWORD (RESTIC_PASSWORD and RESTIC_PASSWORD_FILE work too).', ExitCode.wrongPassword);
  }

  /** Creates a new v2 repository with a fresh master key; refuses if one exists already. */
  static async init(backend: Backend, password: string, opts: InitOptions): Promise<Repository> {
    if (await backend.exists({ type: 'config', name: 'config' })) {
      throw new CairnError('repository-exists', `a repository already exists at ${backend.location}`, 'Use it as it is, or choose another location with -r/--repo.');
    }
    await backend.create();
    const master = newMasterKey();
    const config: RepoConfig = { version: 2, id: randomBytes(32).toString('hex'), chunker_polynomial: opts.polynomial ?? opts.newPolynomial() };
    const keyFile = await createKeyFile(master, password, opts.kdf ?? defaultKdfParams);
    await backend.write({ type: 'key', name: keyFile.id }, keyFile.bytes);
    const configJson = Buffer.from(JSON.stringify(config), 'utf8');
    await backend.write({ type: 'config', name: 'config' }, seal(master, configJson));
    const repo = new Repository(backend, master, config, keyFile.id);
    repo.indexLoaded = true;
    return repo;
  }

  private static async readConfig(backend: Backend, key: CryptoKey): Promise<RepoConfig> {
    let plain: Buffer;
    try {
      plain = open(key, await backend.read({ type: 'config', name: 'config' }));
    } catch (err) {
      if (err instanceof MacError) throw new CairnError('damaged-config', `the config file of ${backend.location} does not decrypt`, 'The repository config is damaged; restore it from a copy of the repository.');
      throw err;
    }
    const config = JSON.parse(plain.toString('utf8')) as RepoConfig;
    if (config.version !== 1 && config.version !== 2) {
      throw new CairnError('unsupported-version', `repository format version ${config.version} is not supported`, 'cairn reads restic repository versions 1 and 2.');
    }
    if (!/^[0-9a-f]+$/.test(config.chunker_polynomial ?? '') || !isIrreducible(BigInt('0x' + config.chunker_polynomial))) {
      // restic refuses such a repository too: its chunks could not be cut like restic's
      throw new CairnError('damaged-config', `the repository config has no valid chunker polynomial (${config.chunker_polynomial})`, 'The repository config is damaged; restore it from a copy of the repository.');
    }
    return config;
  }

  /** The chunker polynomial as a number. */
  get polynomial(): bigint {
    return BigInt('0x' + this.config.chunker_polynomial);
  }

  /** Sets how new blobs are compressed and packed. */
  setWriteOptions(opts: WriteOptions): void {
    if (opts.compression && opts.compression !== this.compression) {
      this.compression = opts.compression;
      void this.codecPool?.close();
      this.codecPool = undefined;
    }
    if (opts.packSize) this.packSize = opts.packSize;
  }

  // ---- unpacked files: index, snapshots, locks ----

  /** Loads and decrypts an index, snapshot or lock file, returning its JSON bytes. */
  async loadJsonFile(type: 'index' | 'snapshot' | 'lock', id: string): Promise<Buffer> {
    const sealed = await this.backend.read({ type, name: id });
    let plain: Buffer;
    try {
      plain = open(this.key, sealed);
    } catch (err) {
      if (err instanceof MacError) throw new CairnError(`damaged-${type}`, `${type} file ${id.slice(0, 8)} is damaged (MAC check failed)`, type === 'index' ? 'Run `restic repair index` (or `cairn check`) to rebuild the index.' : 'Run `cairn check` to see what else is damaged.');
      throw err;
    }
    return decodeUnpacked(plain, `${type} ${id.slice(0, 8)}`);
  }

  /** Encrypts and stores an index, snapshot or lock file; returns its storage id. */
  async saveJsonFile(type: 'index' | 'snapshot' | 'lock', json: Buffer): Promise<string> {
    const sealed = seal(this.key, encodeUnpacked(json, this.config.version));
    const id = sha256Hex(sealed);
    await this.backend.write({ type, name: id }, sealed);
    return id;
  }

  /** Lists the storage ids of one file type. */
  async listIds(type: FileType): Promise<string[]> {
    const ids: string[] = [];
    for await (const f of this.backend.list(type)) ids.push(f.name);
    return ids;
  }

  // ---- index ----

  /** Loads every index file into memory (tolerating overlaps and superseded files). */
  async loadIndex(onProgress?: (done: number, total: number) => void): Promise<void> {
    if (this.indexLoaded) return;
    const ids = await this.listIds('index');
    let done = 0;
    await mapLimit(ids, 4, async (id) => {
      let json: Buffer;
      try {
        json = await this.loadJsonFile('index', id);
      } catch (err) {
        if (err instanceof CairnError) throw err;
        throw new CairnError('damaged-index', `index file ${id.slice(0, 8)} cannot be read: ${(err as Error).message}`, 'Run `restic repair index` to rebuild the index from the packs.');
      }
      let decoded: { packs: IndexPack[] };
      try {
        decoded = decodeIndex(json);
      } catch (err) {
        if (err instanceof CairnError) throw err;
        throw new CairnError('damaged-index', `index file ${id.slice(0, 8)} is not valid: ${(err as Error).message}`, 'Run `restic repair index` to rebuild the index from the packs.');
      }
      for (const p of decoded.packs) this.index.addPack(p.id, p.blobs.map(fromIndexBlob));
      onProgress?.(++done, ids.length);
    });
    this.indexLoaded = true;
  }

  /** True when the blob is stored (or being stored in this session). */
  hasBlob(type: BlobType, id: string): boolean {
    return this.index.has(type, id) || this.inFlight.has(type[0] + id);
  }

  // ---- blobs ----

  /** Loads a blob's plaintext, verifying MAC, length and id; tries every stored copy. */
  async loadBlob(type: BlobType, id: string): Promise<Buffer> {
    const locations = this.index.lookup(type, id);
    if (locations.length === 0) {
      throw new CairnError('missing-blob', `${type} blob ${id.slice(0, 8)} is not in the index`, 'The repository is incomplete; run `cairn check` to see which snapshots are affected.');
    }
    let lastError: unknown;
    for (const loc of locations) {
      try {
        const sealed = await this.backend.read({ type: 'pack', name: loc.packId }, loc.offset, loc.length);
        return await this.decodeBlobAsync(type, id, loc, sealed);
      } catch (err) {
        lastError = err;
      }
    }
    throw lastError;
  }

  /** Opens one sealed blob read from `loc` and checks it is the blob `id`. */
  decodeBlob(type: BlobType, id: string, loc: BlobLocation, sealed: Buffer): Buffer {
    const where = `${type} blob ${id.slice(0, 8)} in pack ${loc.packId.slice(0, 8)}`;
    const remedy = 'The pack is damaged; run `cairn check --read-data` to list damaged packs, then `restic repair packs` or restore the pack from a copy.';
    if (sealed.length !== loc.length) throw new CairnError('damaged-blob', `${where} is truncated`, remedy);
    let plain: Buffer;
    try {
      plain = decodeBlob(this.key, sealed, loc.uncompressedLength);
    } catch (err) {
      if (!(err instanceof BlobDecodeError)) throw err;
      const what = { mac: 'is damaged (MAC check failed)', decompress: 'does not decompress', length: 'has the wrong length after decompression' }[err.reason];
      throw new CairnError('damaged-blob', `${where} ${what}`, remedy);
    }
    if (sha256Hex(plain) !== id) throw new CairnError('damaged-blob', `${where} does not match its id`, remedy);
    return plain;
  }

  /**
   * Like decodeBlob, but the work (MAC, decryption, decompression, hashing)
   * runs on a worker thread for big blobs, so several can be opened at once.
   */
  async decodeBlobAsync(type: BlobType, id: string, loc: BlobLocation, sealed: Buffer): Promise<Buffer> {
    if (sealed.length < 16 * 1024 || sealed.length !== loc.length || !workersEnabled()) return this.decodeBlob(type, id, loc, sealed);
    try {
      return await this.pool().decode(id, sealed, loc.uncompressedLength);
    } catch (err) {
      if (!(err instanceof WorkerDecodeError)) throw err;
      const where = `${type} blob ${id.slice(0, 8)} in pack ${loc.packId.slice(0, 8)}`;
      const what: Record<string, string> = { mac: 'is damaged (MAC check failed)', decompress: 'does not decompress', length: 'has the wrong length after decompression', id: 'does not match its id' };
      throw new CairnError('damaged-blob', `${where} ${what[err.reason ?? ''] ?? `cannot be decoded: ${err.message}`}`, 'The pack is damaged; run `cairn check --read-data` to list damaged packs, then `restic repair packs` or restore the pack from a copy.');
    }
  }

  /**
   * Stores a blob unless an identical one is already stored. Blobs go into
   * packs of their type; a full pack is uploaded in the background (bounded),
   * and its blobs become visible to other processes once the index is written.
   */
  async saveBlob(type: BlobType, plaintext: Buffer, knownId?: string): Promise<SaveResult> {
    if (this.uploadError) throw this.uploadError;
    const id = knownId ?? sha256Hex(plaintext);
    if (this.hasBlob(type, id)) return { id, added: false, storedSize: 0, length: plaintext.length };
    // Big data blobs are compressed and sealed on worker threads, so the caller can chunk and hash meanwhile.
    const offload = type === 'data' && plaintext.length >= workerMinBlob && workersEnabled();
    return this.storeNew(type, id, plaintext.length, () => (offload ? this.pool().encode(type, plaintext) : this.encodeBlob(type, plaintext)));
  }

  /**
   * Stores a data blob and returns its id, hashing it on a worker thread too
   * (the caller's thread only cuts chunks). The buffer may be handed over: do not reuse it.
   */
  async saveDataBlob(plaintext: Buffer): Promise<SaveResult> {
    if (plaintext.length < workerMinBlob || !workersEnabled()) return this.saveBlob('data', plaintext);
    if (this.uploadError) throw this.uploadError;
    const plainLength = plaintext.length;
    const pool = this.pool();
    const { id, kept } = await pool.hash(plaintext);
    if (this.hasBlob('data', id)) {
      pool.drop(kept);
      return { id, added: false, storedSize: 0, length: plainLength };
    }
    return this.storeOnWorker(id, plainLength, kept);
  }

  /** True when files can be read, chunked and hashed on worker threads (saveFile). */
  get chunksOnWorkers(): boolean {
    return workersEnabled();
  }

  /**
   * Stores a file's contents: a worker thread reads, chunks and hashes it, and
   * compresses and seals the chunks this repository does not have yet. Returns
   * the blobs in file order and the bytes read. A file that cannot be read
   * rejects with WorkerFileError (chunks stored before are left for prune, as
   * restic leaves them); a failure to store rejects with that error.
   */
  async saveFile(path: string, onRead: (bytes: number) => void): Promise<{ blobs: SaveResult[]; size: number }> {
    if (this.uploadError) throw this.uploadError;
    const pool = this.pool();
    const saves: Promise<SaveResult>[] = [];
    const onChunk = (c: FileChunk): void => {
      if (this.hasBlob('data', c.id)) {
        pool.drop(c.kept);
        saves.push(Promise.resolve({ id: c.id, added: false, storedSize: 0, length: c.length }));
      } else {
        const p = this.storeOnWorker(c.id, c.length, c.kept);
        p.catch(() => {}); // awaited below; this only keeps an early failure from being "unhandled"
        saves.push(p);
      }
    };
    let size: number;
    try {
      size = await pool.chunkFile(path, onChunk, onRead);
    } finally {
      await Promise.allSettled(saves);
    }
    return { blobs: await Promise.all(saves), size };
  }

  /** Has the worker holding a new data blob store it in its own pack (marked in flight until that pack is uploaded). */
  private async storeOnWorker(id: string, length: number, kept: KeptBlob): Promise<SaveResult> {
    const key = 'd' + id;
    this.inFlight.add(key);
    try {
      const storedSize = await this.pool().storeKept(kept, this.packSize);
      return { id, added: true, storedSize, length };
    } catch (err) {
      this.inFlight.delete(key);
      throw err;
    }
  }

  /** Encodes a blob not stored yet (marked in flight meanwhile) and adds it to its pack. */
  private async storeNew(type: BlobType, id: string, plainLength: number, encode: () => EncodedBlob | Promise<EncodedBlob>): Promise<SaveResult> {
    const key = type[0] + id;
    this.inFlight.add(key);
    let enc: EncodedBlob;
    try {
      enc = await encode();
    } catch (err) {
      this.inFlight.delete(key);
      throw err;
    }
    const writer = this.writer(type);
    writer.add(id, enc.sealed, enc.uncompressedLength);
    if (writer.isFull(this.packSize)) await this.startUpload(writer);
    return { id, added: true, storedSize: enc.sealed.length, length: plainLength };
  }

  // ---- blobs encoded on other threads (smallFileReader.ts) ----

  /** How new data blobs are compressed: threads that encode blobs for saveEncodedBlob must do the same. */
  get compressionMode(): CompressionMode {
    return this.compression;
  }

  /** Stores a blob another thread already compressed and sealed with this repository's key, unless it is stored already. */
  async saveEncodedBlob(type: BlobType, id: string, plainLength: number, encoded: EncodedBlob): Promise<SaveResult> {
    if (this.uploadError) throw this.uploadError;
    if (this.hasBlob(type, id)) return { id, added: false, storedSize: 0, length: plainLength };
    return this.storeNew(type, id, plainLength, () => encoded);
  }

  private pool(): BlobCodecPool {
    if (!this.codecPool) {
      const pool = new BlobCodecPool(this.key, this.config.version, this.compression, this.config.chunker_polynomial, { stageDir: this.backend.stagingDir() });
      pool.onPack = (pack) => this.queueUpload(pack, () => pool.packStored(pack));
      this.codecPool = pool;
    }
    return this.codecPool;
  }

  private writer(type: BlobType): PackFileWriter {
    return (this.writerOf[type] ??= new PackFileWriter(type, this.backend.stagingDir(), trackStaged));
  }

  /** Compresses (when it helps) and seals a blob's plaintext on this thread. */
  encodeBlob(type: BlobType, plaintext: Buffer): EncodedBlob {
    return encodeBlob(this.key, this.config.version, this.compression, type, plaintext);
  }

  /** Finishes `writer`'s pack and queues its upload, waiting while too many uploads are queued (bounded staged files). */
  private async startUpload(writer: PackFileWriter): Promise<void> {
    const pack = writer.finish(this.key);
    while (this.uploads.size >= maxParallelUploads(this.backend) + 1) await Promise.race(this.uploads);
    if (this.uploadError) {
      await removeStaged(pack.path);
      throw this.uploadError;
    }
    this.queueUpload(pack, () => {});
  }

  /** Uploads and indexes a pack when an upload slot is free; `done` runs afterwards (success or not), when its staged file is gone. */
  private queueUpload(pack: StagedPack, done: () => void): void {
    const p = this.uploadSlot()
      .then((release) => this.uploadPack(pack).finally(release))
      .catch((err: unknown) => {
        this.uploadError ??= err;
      })
      .finally(done);
    const tracked = p.finally(() => this.uploads.delete(tracked));
    this.uploads.add(tracked);
  }

  private uploading = 0;
  private readonly slotWaiters: (() => void)[] = [];

  /** Waits for one of the backend's upload slots; resolves to its release. */
  private async uploadSlot(): Promise<() => void> {
    if (this.uploading >= maxParallelUploads(this.backend)) await new Promise<void>((r) => this.slotWaiters.push(r));
    else this.uploading++;
    return () => {
      const next = this.slotWaiters.shift();
      if (next) next();
      else this.uploading--;
    };
  }

  private async uploadPack(pack: StagedPack): Promise<void> {
    try {
      // a failed store is not retried here (the backend's retry wrapper did that): the file goes either way
      await this.backend.writeFile({ type: 'pack', name: pack.id }, pack.path);
    } finally {
      await removeStaged(pack.path);
    }
    this.index.addPack(pack.id, pack.blobs);
    for (const b of pack.blobs) this.inFlight.delete(b.type[0] + b.id);
    this.pendingIndex.push({ id: pack.id, blobs: pack.blobs.map(toIndexBlob) });
    this.pendingIndexBlobs += pack.blobs.length;
    if (this.pendingIndexBlobs >= indexBlobLimit) await this.writePendingIndex();
  }

  private async writePendingIndex(): Promise<void> {
    if (this.pendingIndex.length === 0) return;
    const packs = this.pendingIndex;
    this.pendingIndex = [];
    this.pendingIndexBlobs = 0;
    const id = await this.saveJsonFile('index', encodeIndex(packs));
    this.writtenIndexes.push(id);
  }

  /** Uploads unfinished packs and writes the index for everything stored: call before saving a snapshot. */
  async flush(): Promise<void> {
    // the workers' unfinished packs arrive (and are queued for upload) before this resolves
    await this.codecPool?.flushPacks();
    for (const type of ['data', 'tree'] as const) {
      const w = this.writerOf[type];
      if (w && w.count > 0) await this.startUpload(w);
    }
    await Promise.all(this.uploads);
    if (this.uploadError) throw this.uploadError;
    await this.writePendingIndex();
  }

  // ---- trees ----

  /** Loads and decodes a tree blob. */
  async loadTree(id: string): Promise<Tree> {
    const plain = await this.loadBlob('tree', id);
    try {
      return decodeTree(plain);
    } catch (err) {
      if (err instanceof CairnError) throw err;
      throw new CairnError('damaged-tree', `tree ${id.slice(0, 8)} cannot be decoded: ${(err as Error).message}`, 'Run `cairn check`; `restic repair snapshots` can rewrite snapshots around damaged trees.');
    }
  }

  /** Encodes nodes as restic does (sorted, byte-exact) and stores the tree; returns its id. */
  async saveTree(nodes: Node[]): Promise<SaveResult> {
    return this.saveBlob('tree', encodeTree(nodes));
  }

  // ---- snapshots ----

  async loadSnapshot(id: string): Promise<Snapshot> {
    return decodeSnapshot(await this.loadJsonFile('snapshot', id), id);
  }

  /** Loads every snapshot, oldest first. */
  async loadSnapshots(): Promise<Snapshot[]> {
    const ids = await this.listIds('snapshot');
    const snaps = await mapLimit(ids, 8, (id) => this.loadSnapshot(id));
    return snaps.sort((a, b) => Date.parse(a.time) - Date.parse(b.time) || a.id.localeCompare(b.id));
  }

  /** Writes a snapshot file (after flush: packs → index → snapshot). */
  async saveSnapshot(s: SnapshotData): Promise<string> {
    return this.saveJsonFile('snapshot', encodeSnapshot(s));
  }

  /** Finds a snapshot by id, unique id prefix, or `latest` (newest matching `filter`). */
  async resolveSnapshot(ref: string, filter: (s: Snapshot) => boolean = () => true): Promise<Snapshot> {
    if (ref === 'latest') {
      const snaps = (await this.loadSnapshots()).filter(filter);
      const last = snaps[snaps.length - 1];
      if (!last) throw new CairnError('no-snapshot', 'no snapshot matches "latest"', 'List snapshots with `cairn snapshots`; make one with `cairn backup`.');
      return last;
    }
    if (!/^[0-9a-f]{1,64}$/.test(ref)) throw new CairnError('bad-snapshot-id', `"${ref}" is not a snapshot id`, 'Give an id (or unique prefix) as `cairn snapshots` prints it, or `latest`.');
    const matches = (await this.listIds('snapshot')).filter((id) => id.startsWith(ref));
    if (matches.length === 0) throw new CairnError('no-snapshot', `no snapshot with id ${ref}`, 'List snapshots with `cairn snapshots`.');
    if (matches.length > 1) throw new CairnError('ambiguous-snapshot', `snapshot id prefix ${ref} is ambiguous (${matches.length} matches)`, 'Give more characters of the id.');
    return this.loadSnapshot(matches[0]!);
  }

  // ---- keys ----

  /** Adds a key file for another password (same master key); returns its id. */
  async addKey(password: string, kdf: KdfParams = defaultKdfParams): Promise<string> {
    const k = await createKeyFile(this.key, password, kdf);
    await this.backend.write({ type: 'key', name: k.id }, k.bytes);
    return k.id;
  }

  /** Reads a key file's public fields. */
  async loadKeyFile(id: string): Promise<KeyFileData> {
    return JSON.parse((await this.backend.read({ type: 'key', name: id })).toString('utf8')) as KeyFileData;
  }

  /** Closes the backend. */
  async close(): Promise<void> {
    await Promise.allSettled(this.uploads);
    // packs never flushed (a failed backup): their staged files go now, not at exit
    for (const w of Object.values(this.writerOf)) {
      const file = w.abandon();
      if (file) await removeStaged(file);
    }
    await this.codecPool?.close();
    await this.backend.close();
  }
}

function toIndexBlob(b: PackedBlob): IndexPack['blobs'][number] {
  const out: IndexPack['blobs'][number] = { id: b.id, type: b.type, offset: b.offset, length: b.length };
  if (b.uncompressedLength) out.uncompressed_length = b.uncompressedLength;
  return out;
}

function fromIndexBlob(b: IndexPack['blobs'][number]): PackedBlob {
  const out: PackedBlob = { id: b.id, type: b.type, offset: b.offset, length: b.length };
  if (b.uncompressed_length) out.uncompressedLength = b.uncompressed_length;
  return out;
}

/** Worker threads for blob encoding are on unless CAIRN_WORKERS=0. */
function workersEnabled(): boolean {
  return process.env.CAIRN_WORKERS !== '0';
}

/** Runs `fn` over `items` with at most `limit` in flight; results in input order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]!, i);
    }
  });
  await Promise.all(workers);
  return results;
}

export { sealOverhead };
