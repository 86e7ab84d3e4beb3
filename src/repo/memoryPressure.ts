import v8 from 'node:v8';
import vm from 'node:vm';

let gc: (() => void) | undefined | null;

/**
 * Collects garbage now. Worker threads allocate large Buffers outside V8's
 * heap (chunks, compressed, sealed and opened blobs); V8 only counts them
 * loosely, so without a nudge hundreds of MiB of dead buffers can pile up
 * before a collection. A worker's heap is tiny, so a collection costs well
 * under a millisecond there; on the main thread, whose heap holds the index
 * and trees, it costs far more (do not call it there in a loop).
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
