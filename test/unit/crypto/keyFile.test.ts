import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { openKeyFile, createKeyFile, type KeyFileData } from '../../../src/crypto/keyFile.js';
import { masterKeyToJson, newMasterKey } from '../../../src/crypto/masterKey.js';
import { open, seal, MacError } from '../../../src/crypto/sealedBox.js';
import { expected, fixturePassword, fixtureRepo } from '../../helpers/fixture.js';

const keyName = readdirSync(path.join(fixtureRepo, 'keys'))[0]!;
const keyData = JSON.parse(readFileSync(path.join(fixtureRepo, 'keys', keyName), 'utf8')) as KeyFileData;

test('the fixture key opens with its password and yields restic\'s master key', async () => {
  const master = await openKeyFile(keyData, fixturePassword);
  assert.ok(master);
  assert.deepEqual(JSON.parse(masterKeyToJson(master)), expected.restic_cat_masterkey);
});

test('a wrong password does not open the key (no garbage key)', async () => {
  assert.equal(await openKeyFile(keyData, 'not-the-password'), null);
});

test('the fixture config decrypts to restic\'s config', async () => {
  const master = (await openKeyFile(keyData, fixturePassword))!;
  const plain = open(master, readFileSync(path.join(fixtureRepo, 'config')));
  assert.deepEqual(JSON.parse(plain.toString()), expected.restic_cat_config);
});

test('sealed boxes round-trip, and one flipped bit anywhere fails verification', () => {
  const key = newMasterKey();
  const msg = Buffer.from('hello restic world, this is cairn');
  const sealed = seal(key, msg);
  assert.equal(sealed.length, msg.length + 32);
  assert.deepEqual(open(key, sealed), msg);
  for (const pos of [0, 15, 16, 20, sealed.length - 1]) {
    const bad = Buffer.from(sealed);
    bad[pos]! ^= 1;
    assert.throws(() => open(key, bad), MacError);
  }
  assert.throws(() => open(key, Buffer.alloc(10)), MacError);
});

test('a key file cairn creates opens again with the same password only', async () => {
  const master = newMasterKey();
  const { data, bytes } = await createKeyFile(master, 'pw', { N: 1024, r: 8, p: 1 });
  assert.deepEqual(Object.keys(JSON.parse(bytes.toString())), ['created', 'username', 'hostname', 'kdf', 'N', 'r', 'p', 'salt', 'data']);
  const opened = await openKeyFile(data, 'pw');
  assert.equal(masterKeyToJson(opened!), masterKeyToJson(master));
  assert.equal(await openKeyFile(data, 'pw2'), null);
});
