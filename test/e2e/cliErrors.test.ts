import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runCairn } from '../helpers/cli.js';
import { fixturePassword, fixtureRepo } from '../helpers/fixture.js';

// Bad input gets one clear line and a remedy, the exit codes restic uses, and never a stack trace.
let tmp: string;

before(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'cairn-errors-'));
});

after(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

function assertNoStack(out: string): void {
  assert.doesNotMatch(out, /\n\s+at .+\(.*:\d+:\d+\)/, 'no stack trace');
}

async function copyFixture(name: string): Promise<string> {
  const dir = path.join(tmp, name);
  await fs.cp(fixtureRepo, dir, { recursive: true });
  await fs.chmod(dir, 0o700);
  return dir;
}

test('a wrong password exits with 12 and says how to give the right one', async () => {
  const r = await runCairn(['snapshots', '-r', fixtureRepo], { env: { CAIRN_PASSWORD: 'wrong' } });
  assert.equal(r.code, 12);
  assert.match(r.stderr, /wrong password/);
  assert.match(r.stderr, /--password-file/);
  assertNoStack(r.stderr);
});

test('a folder that is not a repository exits with 10 and suggests cairn init', async () => {
  const r = await runCairn(['snapshots', '-r', tmp], { env: { CAIRN_PASSWORD: 'x' } });
  assert.equal(r.code, 10);
  assert.match(r.stderr, /no repository/);
  assert.match(r.stderr, /cairn init/);
  assertNoStack(r.stderr);
});

test('restic\'s environment variables work unchanged', async () => {
  const r = await runCairn(['snapshots', '--json'], { env: { RESTIC_REPOSITORY: fixtureRepo, RESTIC_PASSWORD: fixturePassword } });
  assert.equal(r.code, 0, r.stderr);
  assert.equal((JSON.parse(r.stdout) as unknown[]).length, 2);
});

test('an unknown snapshot id is a clear error', async () => {
  const r = await runCairn(['ls', '-r', fixtureRepo, 'deadbeef'], { env: { CAIRN_PASSWORD: fixturePassword } });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /no snapshot with id deadbeef/);
  assert.match(r.stderr, /cairn snapshots/);
  assertNoStack(r.stderr);
});

test('a truncated index file is reported by name with a repair remedy', async () => {
  const repo = await copyFixture('truncated-index');
  const indexDir = path.join(repo, 'index');
  const name = (await fs.readdir(indexDir))[0]!;
  const file = path.join(indexDir, name);
  await fs.chmod(file, 0o600);
  const data = await fs.readFile(file);
  await fs.writeFile(file, data.subarray(0, Math.floor(data.length / 2)));
  const r = await runCairn(['ls', '-r', repo, 'latest'], { env: { CAIRN_PASSWORD: fixturePassword } });
  assert.equal(r.code, 1);
  assert.match(r.stderr, new RegExp(`index file ${name.slice(0, 8)}`));
  assert.match(r.stderr, /repair index/);
  assertNoStack(r.stderr);
});

test('backing up a path that does not exist is refused before anything is written', async () => {
  const r = await runCairn(['backup', '-r', path.join(tmp, 'nope-repo'), path.join(tmp, 'missing')], { env: { CAIRN_PASSWORD: 'x' } });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /does not exist/);
  assertNoStack(r.stderr);
});

test('on a fresh machine `cairn backup DIR` creates the default repository and a 0600 password file, and says where', async () => {
  const home = path.join(tmp, 'fresh');
  const env = { CAIRN_DATA_DIR: path.join(home, 'data'), CAIRN_CONFIG_DIR: path.join(home, 'config') };
  const dir = path.join(home, 'docs');
  await fs.mkdir(dir, { recursive: true });
  await fs.writeFile(path.join(dir, 'note.txt'), 'remember the milk\n');
  const r = await runCairn(['backup', dir], { env });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /password/);
  assert.match(r.stderr, /Keep a copy/);
  const pwFile = path.join(home, 'config', 'password');
  assert.equal((await fs.stat(pwFile)).mode & 0o777, 0o600);
  const list = await runCairn(['snapshots', '--json'], { env });
  assert.equal(list.code, 0, list.stderr);
  assert.equal((JSON.parse(list.stdout) as unknown[]).length, 1);
});
