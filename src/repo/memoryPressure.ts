import v8 from 'node:v8';
import vm from 'node:vm';

let gc: (() => void) | undefined | null;

/**
 * Collects garbage now. Backups allocate large Buffers outside V8's heap
 * (chunks, compressed and sealed blobs, packs); V8 only counts them loosely,
 * so without a nudge hundreds of MiB of dead buffers can pile up before a
 * collection. Called once per finished pack (every ~16 MiB), a collection of
 * cairn's small heap costs about a millisecond and keeps memory flat.
 */
export function releaseDeadBuffers(): void {
  if (gc === undefined) {
    try {
      v8.setFlagsFromString('--expose-gc');
      gc = vm.runInNewContext('gc') as () => void;
    } catch {
      gc = null;
    }
  }
  gc?.();
}
