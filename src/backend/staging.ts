// Files staged on local disk before Backend.writeFile stores them (packs written as they are
// filled, instead of held in memory). Their names start with `.tmp-`, which restic's listers and
// cairn's skip, so a crash leaves only ignored names; a normal exit removes them.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';

const live = new Set<string>();
let hooked = false;

/** A fresh name for a staged file in `dir` (not created). */
export function stagedPath(dir: string): string {
  return path.join(dir, `.tmp-stage-${process.pid}-${randomBytes(8).toString('hex')}`);
}

/** Remembers a staged file, so it is removed when the process exits (even on process.exit()). */
export function trackStaged(file: string): void {
  live.add(file);
  if (!hooked) {
    hooked = true;
    process.once('exit', removeAllStaged);
    for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.once(sig, () => removeThenDie(sig));
  }
}

/**
 * Ctrl-C or a kill ends node without 'exit' handlers: remove the staged files first, then, unless
 * someone else handles the signal, end the process by it as it would have ended anyway.
 */
function removeThenDie(sig: NodeJS.Signals): void {
  removeAllStaged();
  if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
}

/** Removes a staged file (a missing one is fine: writeFile may have moved it) and forgets it. */
export async function removeStaged(file: string): Promise<void> {
  live.delete(file);
  await fs.promises.unlink(file).catch(() => {});
}

/** Removes every staged file still on disk (runs at exit). */
export function removeAllStaged(): void {
  for (const file of live) {
    try {
      fs.unlinkSync(file);
    } catch {
      // already moved into place or removed
    }
  }
  live.clear();
}

/** How many staged files this process has not removed yet (for tests and leak checks). */
export function stagedCount(): number {
  return live.size;
}

/** The staging folder for backends that cannot move a file into place: the system's temp folder ($TMPDIR), as restic uses. */
export function systemStagingDir(): string {
  return os.tmpdir();
}
