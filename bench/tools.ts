// The two programs under test and their command lines: cairn (this tree's CLI, built into dist/) and
// the real restic. Both get the same steps on the same data; only the spelling differs.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from './measure.js';

/** The name of a tool under test. */
export type ToolName = 'cairn' | 'restic';

/** One tool bound to one repository: the command lines of each step. */
export interface Tool {
  name: ToolName;
  /** Repository location as given to -r. */
  location: string;
  /** Folder on this machine holding the repository's files (for its size). */
  localDir: string;
  init(): Command;
  backup(source: string): Command;
  restore(target: string): Command;
  check(): Command;
}

export const cairnBin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'cairn.js');
const password = 'bench-password';

/** Where a repository lives and what a tool needs to reach it (remote cases add ssh settings). */
export interface RepoSpec {
  location: string;
  localDir: string;
  /** Extra environment for cairn (e.g. HOME holding an ~/.ssh/config for the sftp case). */
  cairnEnv?: Record<string, string | undefined>;
  /** Extra restic options (e.g. `-o sftp.command=...`). */
  resticArgs?: string[];
}

/**
 * cairn on one repository (password in CAIRN_PASSWORD). With `chunkerFrom` (restic's repository, made
 * first) it is created with restic's chunker polynomial, so both tools cut the data into the same
 * chunks and repository sizes compare compression and packing, not the luck of two polynomials.
 */
export function cairnTool(repo: RepoSpec, bin = cairnBin, chunkerFrom?: string): Tool {
  const env = { CAIRN_PASSWORD: password, CAIRN_FROM_PASSWORD: password, CAIRN_REPOSITORY: undefined, RESTIC_REPOSITORY: undefined, RESTIC_PASSWORD: undefined, ...repo.cairnEnv };
  const cmd = (...args: string[]): Command => ({ argv: [process.execPath, bin, ...args, '-r', repo.location], env });
  return {
    name: 'cairn',
    location: repo.location,
    localDir: repo.localDir,
    init: () => (chunkerFrom ? cmd('init', '--copy-chunker-params-from', chunkerFrom) : cmd('init')),
    backup: (source) => cmd('backup', '--json', source),
    restore: (target) => cmd('restore', 'latest', '--target', target),
    check: () => cmd('check', '--read-data'),
  };
}

/**
 * restic on one repository (password in RESTIC_PASSWORD). Its cache lives in `cacheDir`: one fresh
 * cache per bench run, kept between the steps as a user's would be.
 */
export function resticTool(repo: RepoSpec, cacheDir: string): Tool {
  const env = { RESTIC_PASSWORD: password, RESTIC_CACHE_DIR: cacheDir, RESTIC_REPOSITORY: undefined, RESTIC_PASSWORD_FILE: undefined, RESTIC_PASSWORD_COMMAND: undefined };
  const cmd = (...args: string[]): Command => ({ argv: ['restic', '-r', repo.location, ...(repo.resticArgs ?? []), ...args], env });
  return {
    name: 'restic',
    location: repo.location,
    localDir: repo.localDir,
    init: () => cmd('init'),
    backup: (source) => cmd('backup', '--json', '--compression', 'auto', source),
    restore: (target) => cmd('restore', 'latest', '--target', target),
    check: () => cmd('check', '--read-data'),
  };
}

/**
 * Copies the built CLI (bin/, dist/, package.json; node_modules linked) into `dest` and returns the
 * copy's bin/cairn.js. Other people rebuild dist/ while a bench runs; the copy keeps every step on
 * the same build.
 */
export function snapshotCairn(bin: string, dest: string): string {
  const tree = path.resolve(path.dirname(bin), '..');
  mkdirSync(dest, { recursive: true });
  for (const name of ['bin', 'dist', 'package.json']) cpSync(path.join(tree, name), path.join(dest, name), { recursive: true });
  symlinkSync(path.join(tree, 'node_modules'), path.join(dest, 'node_modules'));
  return path.join(dest, 'bin', path.basename(bin));
}

/** Version strings of the tools (cairn: the git commit of the tree holding `bin`), for the results. */
export function versions(bin = cairnBin): Record<string, string> {
  const repoRoot = path.resolve(path.dirname(bin), '..');
  const out = (argv: string[], cwd?: string): string | undefined => {
    const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', cwd });
    return r.status === 0 ? r.stdout.trim() : undefined;
  };
  const commit = out(['git', 'rev-parse', '--short', 'HEAD'], repoRoot);
  const changes = out(['git', 'status', '--porcelain', '--', 'src'], repoRoot);
  const cairn = commit === undefined ? `${bin} (not in a git checkout)` : `${commit}${changes ? ' + uncommitted changes in src/' : ''}`;
  return { cairn, restic: out(['restic', 'version']) ?? 'unknown', node: process.version };
}
