// `cairn key list|add|remove|passwd` end to end, with the real restic opening
// the repository with the passwords cairn added.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runCairn, runRestic } from '../helpers/cli.js';

let tmp = '';
let repo = '';
const oldPw = { CAIRN_PASSWORD: 'first-password' };
const newPw = { CAIRN_PASSWORD: 'second-password' };

interface KeyLine {
  current: boolean;
  id: string;
  userName: string;
  hostName: string;
  created: string;
}

async function keys(pw: Record<string, string>): Promise<KeyLine[]> {
  const r = await runCairn(['key', 'list', '-r', repo, '--json'], { env: pw });
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as KeyLine[];
}

before(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'cairn-key-e2e-'));
  repo = path.join(tmp, 'repo');
  await fs.mkdir(path.join(tmp, 'data'));
  await fs.writeFile(path.join(tmp, 'data', 'f.txt'), 'key test\n');
  assert.equal((await runCairn(['init', '-r', repo], { env: oldPw })).code, 0);
  assert.equal((await runCairn(['backup', '-r', repo, path.join(tmp, 'data')], { env: oldPw })).code, 0);
});

after(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

test('key list shows the one key, marked as the one in use, with user, host and creation time', async () => {
  const list = await keys(oldPw);
  assert.equal(list.length, 1);
  assert.equal(list[0]!.current, true);
  assert.equal(list[0]!.hostName, os.hostname());
  assert.ok(Date.parse(list[0]!.created) > Date.now() - 3600_000);
  const text = await runCairn(['key', 'list', '-r', repo], { env: oldPw });
  assert.match(text.stdout, /^ ID +User +Host +Created$/m);
  assert.match(text.stdout, new RegExp(`^\\*${list[0]!.id.slice(0, 8)} `, 'm'));
});

test('after key add the repository opens with both passwords, and restic opens it with the new one', async () => {
  const r = await runCairn(['key', 'add', '-r', repo], { env: { ...oldPw, CAIRN_NEW_PASSWORD: 'second-password' } });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /saved new key as [0-9a-f]{8}/);
  const byOld = await keys(oldPw);
  const byNew = await keys(newPw);
  assert.equal(byOld.length, 2);
  assert.notEqual(byOld.find((k) => k.current)!.id, byNew.find((k) => k.current)!.id, 'each password opens through its own key');
  const restic = await runRestic(['-r', repo, '--no-cache', 'snapshots', '--json'], { RESTIC_PASSWORD: 'second-password' });
  assert.equal(restic.code, 0, restic.stderr);
  assert.equal((JSON.parse(restic.stdout) as unknown[]).length, 1);
});

test('key remove refuses the key in use, removes another one, and its password stops working for cairn and restic', async () => {
  const list = await keys(oldPw);
  const current = list.find((k) => k.current)!;
  const other = list.find((k) => !k.current)!;
  const refused = await runCairn(['key', 'remove', '-r', repo, current.id.slice(0, 8)], { env: oldPw });
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /refusing to remove key [0-9a-f]{8}: it is the key currently used/);
  assert.match(refused.stderr, /remedy: /);
  const removed = await runCairn(['key', 'remove', '-r', repo, other.id.slice(0, 10)], { env: oldPw });
  assert.equal(removed.code, 0, removed.stderr);
  assert.equal((await keys(oldPw)).length, 1);
  const gone = await runCairn(['snapshots', '-r', repo], { env: newPw });
  assert.equal(gone.code, 12, 'wrong password');
  assert.notEqual((await runRestic(['-r', repo, '--no-cache', 'snapshots'], { RESTIC_PASSWORD: 'second-password' })).code, 0);
  assert.deepEqual(await fs.readdir(path.join(repo, 'locks')).catch(() => []), [], 'the exclusive lock is released');
});

test('the last key cannot be removed', async () => {
  const [only] = await keys(oldPw);
  const r = await runCairn(['key', 'remove', '-r', repo, only!.id], { env: oldPw });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /it is the repository's only key/);
  assert.equal((await keys(oldPw)).length, 1);
});

test('key passwd replaces the password: the old one stops working, the new one opens it for cairn and restic', async () => {
  const pwFile = path.join(tmp, 'new-pw');
  await fs.writeFile(pwFile, 'third-password\n');
  const r = await runCairn(['key', 'passwd', '-r', repo, '--new-password-file', pwFile], { env: oldPw });
  assert.equal(r.code, 0, r.stderr);
  assert.equal((await runCairn(['snapshots', '-r', repo], { env: oldPw })).code, 12);
  const list = await keys({ CAIRN_PASSWORD: 'third-password' });
  assert.equal(list.length, 1);
  assert.equal(list[0]!.current, true);
  const restic = await runRestic(['-r', repo, '--no-cache', 'key', 'list'], { RESTIC_PASSWORD: 'third-password' });
  assert.equal(restic.code, 0, restic.stderr);
  assert.match(restic.stdout, new RegExp(`\\*${list[0]!.id.slice(0, 8)}`));
});

test('key add without a new password says how to give one', async () => {
  const r = await runCairn(['key', 'add', '-r', repo], { env: { CAIRN_PASSWORD: 'third-password' } });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /no new password given/);
  assert.match(r.stderr, /CAIRN_NEW_PASSWORD/);
});

test('key passwd on the embedded default repository keeps its generated password file in step', async () => {
  const home = path.join(tmp, 'home');
  const envDefault = { CAIRN_DATA_DIR: path.join(home, 'data'), CAIRN_CONFIG_DIR: path.join(home, 'config') };
  const first = await runCairn(['backup', path.join(tmp, 'data')], { env: envDefault });
  assert.equal(first.code, 0, first.stderr);
  const r = await runCairn(['key', 'passwd'], { env: { ...envDefault, CAIRN_NEW_PASSWORD: 'chosen-by-user' } });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(await fs.readFile(path.join(home, 'config', 'password'), 'utf8'), 'chosen-by-user\n');
  const after = await runCairn(['snapshots', '--json'], { env: envDefault });
  assert.equal(after.code, 0, after.stderr);
  assert.equal((JSON.parse(after.stdout) as unknown[]).length, 1);
});
