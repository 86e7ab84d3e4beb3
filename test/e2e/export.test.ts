// `cairn export` end to end: a generated tree is backed up, exported as tar
// and as zip, split into parts and checksummed; the system's sha256sum, tar
// and unzip then check and unpack it to exactly the files that were backed up.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCairn } from '../helpers/cli.js';
import { generateTree, manifest } from '../helpers/treeGen.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const env = { CAIRN_PASSWORD: 'export-pw' };
let tmp = '';
let src = '';
let repo = '';
const partSize = 1024 * 1024;

before(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'cairn-export-e2e-'));
  src = path.join(tmp, 'data', 'src');
  repo = path.join(tmp, 'repo');
  await generateTree(src, { seed: 11, files: 24, maxSize: 160 * 1024, bigFile: 3 * 1024 * 1024 + 4321 });
  // names and modes an archive format has to work for
  const deep = path.join(src, 'dir-0');
  await fs.writeFile(path.join(deep, 'a-long-name-'.repeat(10) + 'end.txt'), 'long name\n');
  await fs.writeFile(path.join(src, 'back\\slash and "quotes".txt'), 'odd name\n');
  await fs.writeFile(path.join(src, 'café ü €.txt'), 'unicode name\n');
  await fs.writeFile(path.join(src, 'setgid-tool'), '#!/bin/sh\n', { mode: 0o755 });
  await fs.chmod(path.join(src, 'setgid-tool'), 0o2755);
  await fs.link(path.join(src, 'script.sh'), path.join(src, 'script-hardlink.sh'));
  const init = await runCairn(['init', '-r', repo], { env });
  assert.equal(init.code, 0, init.stderr);
  const backup = await runCairn(['backup', '-r', repo, src], { env });
  assert.equal(backup.code, 0, backup.stderr);
});

after(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

/** Runs a shell command line; resolves with its exit code and output. */
function sh(cmd: string, cwd: string, extraEnv: NodeJS.ProcessEnv = {}): Promise<{ code: number; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('/bin/sh', ['-c', cmd], { cwd, env: { ...process.env, ...extraEnv }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, out }));
  });
}

/** Exports into a fresh folder; returns the folder and the part files written (sorted). */
async function exportSplit(format: 'tar' | 'zip'): Promise<{ dir: string; parts: string[]; stdout: string }> {
  const dir = path.join(tmp, `out-${format}`);
  await fs.mkdir(dir);
  const r = await runCairn(['export', '-r', repo, `latest:${src}`, '--format', format, '--output', path.join(dir, `snap.${format}`), '--split', '1M', '--checksum'], { env });
  assert.equal(r.code, 0, r.stderr);
  const parts = (await fs.readdir(dir)).filter((n) => n.startsWith(`snap.${format}.part`)).sort();
  return { dir, parts, stdout: r.stdout };
}

/** Checks parts and SHA256SUMS the way a user would: sizes, names, `sha256sum -c`. */
async function checkParts(dir: string, parts: string[], format: string): Promise<void> {
  assert.ok(parts.length >= 3, `a ${format} of about 4 MiB in 1 MiB parts has several parts, got ${parts.length}`);
  assert.deepEqual(parts, parts.map((_p, i) => `snap.${format}.part${String(i + 1).padStart(3, '0')}`));
  for (const p of parts.slice(0, -1)) assert.equal((await fs.stat(path.join(dir, p))).size, partSize, `${p} is full`);
  assert.ok((await fs.stat(path.join(dir, parts[parts.length - 1]!))).size <= partSize);
  const sums = (await fs.readFile(path.join(dir, 'SHA256SUMS'), 'utf8')).trim().split('\n');
  assert.deepEqual(sums.map((l) => l.slice(66)), parts, 'SHA256SUMS lists every part');
  const check = await sh('sha256sum -c SHA256SUMS', dir);
  assert.equal(check.code, 0, check.out);
  assert.equal(check.out.trim().split('\n').filter((l) => l.endsWith(': OK')).length, parts.length);
}

test('a tar export split into parts passes sha256sum -c, and cat parts | tar -x gives exactly the snapshot\'s files with their mtimes', async () => {
  const { dir, parts, stdout } = await exportSplit('tar');
  assert.match(stdout, /as tar: \d+ entries/);
  await checkParts(dir, parts, 'tar');
  const x = path.join(tmp, 'x-tar');
  await fs.mkdir(x);
  const untar = await sh(`cat ${parts.join(' ')} | tar -x -C ${JSON.stringify(x)}`, dir);
  assert.equal(untar.code, 0, untar.out);
  assert.deepEqual(await manifest(x, { mtimes: true, dirMtimes: true }), await manifest(src, { mtimes: true, dirMtimes: true }));
  const [a, b] = await Promise.all([fs.stat(path.join(x, 'script.sh')), fs.stat(path.join(x, 'script-hardlink.sh'))]);
  assert.equal(a.ino, b.ino, 'the hard link is one inode again');
});

test('a zip export split into parts passes sha256sum -c, and the joined zip unzips to exactly the snapshot\'s files, mtimes to the second', async () => {
  const { dir, parts } = await exportSplit('zip');
  await checkParts(dir, parts, 'zip');
  const joined = await sh(`cat ${parts.join(' ')} > joined.zip && unzip -tq joined.zip`, dir);
  assert.equal(joined.code, 0, joined.out);
  const z = path.join(tmp, 'x-zip');
  const unzip = await sh(`unzip -q -K joined.zip -d ${JSON.stringify(z)}`, dir);
  assert.equal(unzip.code, 0, unzip.out);
  assert.deepEqual(await manifest(z), await manifest(src));
  const seconds = (m: Awaited<ReturnType<typeof manifest>>) => Object.fromEntries(Object.entries(m).map(([k, e]) => [k, e.mtimeMs === undefined ? undefined : Math.floor(e.mtimeMs / 1000)]));
  assert.deepEqual(seconds(await manifest(z, { mtimes: true, dirMtimes: true })), seconds(await manifest(src, { mtimes: true, dirMtimes: true })));
});

test('without --output the archive streams to standard output: cairn export latest:/folder | tar -x', async () => {
  const x = path.join(tmp, 'x-stdout');
  await fs.mkdir(x);
  const cmd = `${JSON.stringify(process.execPath)} --import tsx src/cli/entry.ts export -r ${JSON.stringify(repo)} ${JSON.stringify(`latest:${src}/dir-0`)} | tar -x -C ${JSON.stringify(x)}`;
  const r = await sh(cmd, root, env);
  assert.equal(r.code, 0, r.out);
  assert.deepEqual(await manifest(x, { mtimes: true }), await manifest(path.join(src, 'dir-0'), { mtimes: true }));
});

test('an unsplit export with --checksum lists the archive itself in SHA256SUMS', async () => {
  const dir = path.join(tmp, 'out-single');
  await fs.mkdir(dir);
  const r = await runCairn(['export', '-r', repo, 'latest', '-o', path.join(dir, 'all.zip'), '--checksum', '--json'], { env });
  assert.equal(r.code, 0, r.stderr);
  const summary = JSON.parse(r.stdout.trim().split('\n').pop()!) as { format: string; files: { path: string; sha256: string }[]; sha256: string };
  assert.equal(summary.format, 'zip', 'the format follows the .zip name');
  assert.equal(summary.files.length, 1);
  assert.equal(summary.files[0]!.sha256, summary.sha256);
  assert.equal(await fs.readFile(path.join(dir, 'SHA256SUMS'), 'utf8'), `${summary.sha256}  all.zip\n`);
  assert.equal((await sh('sha256sum -c SHA256SUMS', dir)).code, 0);
});

test('export refuses to overwrite an existing archive and asks for --output when splitting', async () => {
  const dir = path.join(tmp, 'out-tar');
  const again = await runCairn(['export', '-r', repo, 'latest', '--output', path.join(dir, 'snap.tar'), '--split', '1M'], { env });
  assert.equal(again.code, 1);
  assert.match(again.stderr, /snap\.tar\.part001 already exists/);
  assert.match(again.stderr, /remedy: /);
  const noOut = await runCairn(['export', '-r', repo, 'latest', '--split', '1M'], { env });
  assert.equal(noOut.code, 1);
  assert.match(noOut.stderr, /need an output file/);
  const badSize = await runCairn(['export', '-r', repo, 'latest', '-o', path.join(tmp, 'x.tar'), '--split', 'lots'], { env });
  assert.equal(badSize.code, 1);
  assert.match(badSize.stderr, /"lots" is not a size/);
  const missing = await runCairn(['export', '-r', repo, 'latest:/no/such/path', '-o', path.join(tmp, 'y.tar')], { env });
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /\/no\/such\/path is not in snapshot/);
  await assert.rejects(fs.stat(path.join(tmp, 'y.tar')), 'a failed export leaves no file');
});
