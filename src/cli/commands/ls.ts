import type { Command } from 'commander';
import { CairnError } from '../../errors.js';
import type { Node } from '../../repo/node.js';
import { findNode, walkTree } from '../../engine/treeWalker.js';
import { snapshotToResticJson } from '../../repo/snapshotCodec.js';
import { openRepository, type RepoOptions } from '../repoAccess.js';
import { printJson } from '../output.js';
import { displayTime } from './snapshots.js';

/** Go's os.FileMode.String(), which restic prints as "permissions". */
export function goModeString(mode: number): string {
  const types = 'dalTLDpSugct?';
  let out = '';
  for (let i = 0; i < types.length; i++) if ((mode >>> (31 - i)) & 1) out += types[i];
  if (out === '') out = '-';
  const rwx = 'rwxrwxrwx';
  for (let i = 0; i < 9; i++) out += (mode >>> (8 - i)) & 1 ? rwx[i] : '-';
  return out;
}

/** Splits "SNAPSHOT:/sub/path" into the snapshot reference and the path inside it. */
export function splitSnapshotPath(ref: string): { snapshot: string; subpath: string } {
  const i = ref.indexOf(':');
  if (i < 0) return { snapshot: ref, subpath: '/' };
  const sub = ref.slice(i + 1) || '/';
  return { snapshot: ref.slice(0, i), subpath: sub.startsWith('/') ? sub : `/${sub}` };
}

/** `cairn ls SNAPSHOT[:/path]`: list the files of a snapshot. */
export function registerLs(program: Command): void {
  program
    .command('ls')
    .description('list files in a snapshot')
    .argument('<snapshot>', 'snapshot id, prefix or "latest", optionally with ":/path/inside"')
    .option('-l, --long', 'show mode, owner, size and time')
    .option('--recursive', 'list sub-folders (default when no path is given)')
    .action(async (ref: string, _o, cmd: Command) => {
      const opts = cmd.optsWithGlobals<RepoOptions & { long?: boolean; recursive?: boolean }>();
      const { snapshot: sref, subpath } = splitSnapshotPath(ref);
      const repo = await openRepository(opts, (m) => process.stderr.write(m + '\n'));
      try {
        const snap = await repo.resolveSnapshot(sref);
        await repo.loadIndex();
        if (opts.json) printJson({ ...snapshotToResticJson(snap), struct_type: 'snapshot' });
        else process.stdout.write(`snapshot ${snap.id.slice(0, 8)} of ${JSON.stringify(snap.paths)} at ${displayTime(snap.time)}:\n`);
        const recursive = opts.recursive || subpath === '/';
        const print = (n: Node, p: string) => {
          if (opts.json) {
            const o: Record<string, unknown> = { name: n.name, type: n.type, path: p, uid: n.uid, gid: n.gid };
            if (n.size) o.size = n.size;
            o.mode = n.mode ?? 0;
            o.permissions = goModeString(n.mode ?? 0);
            Object.assign(o, { mtime: n.mtime, atime: n.atime, ctime: n.ctime, struct_type: 'node' });
            printJson(o);
          } else if (opts.long) {
            process.stdout.write(`${goModeString(n.mode ?? 0)} ${String(n.uid).padStart(5)} ${String(n.gid).padStart(5)} ${String(n.size ?? 0).padStart(10)} ${displayTime(n.mtime)} ${p}${n.type === 'symlink' ? ` -> ${n.linktarget}` : ''}\n`);
          } else process.stdout.write(`${p}\n`);
        };
        const found = await findNode(repo, snap.tree, subpath);
        if (!found) throw new CairnError('no-such-path', `${subpath} is not in the snapshot`, 'List the snapshot with `cairn ls SNAPSHOT` to see its paths.');
        const treeId = found.treeId ?? (found.node?.type === 'dir' ? found.node.subtree : undefined);
        if (!treeId) {
          print(found.node!, subpath);
          return;
        }
        await walkTree(repo, treeId, (p, n) => {
          print(n, p);
          return recursive;
        }, subpath === '/' ? '/' : subpath.replace(/\/$/, ''));
      } finally {
        await repo.close();
      }
    });
}
