import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cairnArgv, runCairn, runRestic } from '../helpers/cli.js';

// What `cairn backup` leaves out and how it reports what it could not read.
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
let tmp: string;
let repo: string;
const env = { CAIRN_PASSWORD: 'opts', RESTIC_PASSWORD: 'opts' };

before(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'cairn-opts-'));
  repo = path.join(tmp, 'repo');
  assert.equal((await runCairn(['init', '-r', repo], { env })).code, 0);
});

after(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

async function pathsIn(snapshot: string): Promise<string[]> {
  const r = await runCairn(['ls', '-r', repo, snapshot], { env });
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.split('\n').slice(1).filter(Boolean);
}

test('--exclude, --exclude-file and --exclude-caches leave out exactly what they name', async () => {
  const src = path.join(tmp, 'ex');
  await fs.mkdir(path.join(src, 'build', 'cache'), { recursive: true });
  await fs.mkdir(path.join(src, 'tagged'), { recursive: true });
  await fs.writeFile(path.join(src, 'keep.txt'), 'keep');
  await fs.writeFile(path.join(src, 'scratch.tmp'), 'tmp');
  await fs.writeFile(path.join(src, 'build', 'cache', 'obj.o'), 'obj');
  await fs.writeFile(path.join(src, 'build', 'out.log'), 'log');
  await fs.writeFile(path.join(src, 'tagged', 'CACHEDIR.TAG'), 'Signature: 8a477f597d28d172789f06886806bc55\n# a cache\n');
  await fs.writeFile(path.join(src, 'tagged', 'big.bin'), 'cached data');
  const exFile = path.join(tmp, 'excludes.txt');
  await fs.writeFile(exFile, '# comment\n\n*.log\n');
  const r = await runCairn(['backup', '-r', repo, '--exclude', '*.tmp', '--exclude', 'cache', '--exclude-file', exFile, '--exclude-caches', '--tag', 'ex', src], { env });
  assert.equal(r.code, 0, r.stderr);
  const names = (await pathsIn('latest')).map((p) => p.slice(src.length)).filter((p) => p.startsWith('/'));
  assert.deepEqual(names.sort(), ['/build', '/keep.txt', '/tagged', '/tagged/CACHEDIR.TAG']);
});

test('--one-file-system does not descend into another mounted filesystem', async () => {
  const src = path.join(tmp, 'fs');
  const mnt = path.join(src, 'mnt');
  await fs.mkdir(mnt, { recursive: true });
  await fs.writeFile(path.join(src, 'here.txt'), 'on this fs');
  execFileSync('mount', ['-t', 'tmpfs', 'none', mnt]);
  try {
    await fs.writeFile(path.join(mnt, 'elsewhere.txt'), 'on tmpfs');
    const r = await runCairn(['backup', '-r', repo, '-x', src], { env });
    assert.equal(r.code, 0, r.stderr);
    const names = (await pathsIn('latest')).map((p) => p.slice(src.length));
    assert.ok(names.includes('/here.txt'));
    assert.ok(!names.some((n) => n.startsWith('/mnt')), `mount point not crossed: ${names.join(' ')}`);
  } finally {
    execFileSync('umount', [mnt]);
  }
});

test('a file that cannot be read is reported, the backup finishes, and the exit code is 3', async () => {
  const src = path.join(tmp, 'perm');
  await fs.mkdir(src, { recursive: true });
  await fs.writeFile(path.join(src, 'readable.txt'), 'fine');
  await fs.writeFile(path.join(src, 'secret.txt'), 'no access');
  await fs.chmod(path.join(src, 'secret.txt'), 0o000);
  // big files are read on worker threads: their failures are reported the same way
  await fs.writeFile(path.join(src, 'secret-big.bin'), Buffer.alloc(3 * 1024 * 1024, 7));
  await fs.chmod(path.join(src, 'secret-big.bin'), 0o000);
  await fs.writeFile(path.join(src, 'readable-big.bin'), Buffer.alloc(3 * 1024 * 1024, 8));
  // root reads everything, so the backup runs as nobody against its own repository
  const userRepo = path.join(tmp, 'nobody-repo');
  await fs.chmod(tmp, 0o755);
  await fs.mkdir(userRepo, { mode: 0o777 });
  await fs.chmod(userRepo, 0o777);
  const run = (args: string[]) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      const child = spawn('setpriv', ['--reuid=nobody', '--regid=nogroup', '--clear-groups', process.execPath, ...cairnArgv(), ...args], {
        cwd: root,
        env: { ...process.env, ...env, HOME: tmp, CAIRN_WORKERS: process.env.CAIRN_WORKERS ?? '' },
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    });
  const init = await run(['init', '-r', path.join(userRepo, 'r')]);
  assert.equal(init.code, 0, init.stderr);
  const r = await run(['backup', '-r', path.join(userRepo, 'r'), src]);
  assert.equal(r.code, 3, r.stdout + r.stderr);
  assert.match(r.stderr, /secret\.txt/);
  assert.match(r.stderr, /secret-big\.bin.*permission denied/i);
  assert.match(r.stdout, /incomplete/);
  const check = await runRestic(['-r', path.join(userRepo, 'r'), 'ls', 'latest'], env);
  assert.match(check.stdout, /readable\.txt/);
  assert.match(check.stdout, /readable-big\.bin/);
  assert.doesNotMatch(check.stdout, /secret\.txt/);
  assert.doesNotMatch(check.stdout, /secret-big\.bin/);
});
