import { Readable } from 'node:stream';
import type { Node } from '../repo/node.js';
import type { Repository } from '../repo/repository.js';

/**
 * A stream of a stored file's bytes, loading one blob at a time so memory
 * stays bounded however large the file (a database dump, a volume export).
 */
export function openFileStream(repo: Repository, node: Node): Readable {
  const content = node.content ?? [];
  let i = 0;
  return new Readable({
    highWaterMark: 1,
    objectMode: false,
    async read() {
      try {
        if (i >= content.length) {
          this.push(null);
          return;
        }
        this.push(await repo.loadBlob('data', content[i++]!));
      } catch (err) {
        this.destroy(err as Error);
      }
    },
  });
}
