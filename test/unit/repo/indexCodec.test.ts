// Index files (format §8) against the two index files restic 0.14 wrote in the
// fixture (one written by rebuild-index, with `supersedes`).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CairnError } from '../../../src/errors.js';
import { decodeIndex, encodeIndex, type IndexPack } from '../../../src/repo/indexCodec.js';
import { expected } from '../../helpers/fixture.js';

const plaintexts = expected.spec_check.index_plaintext as Record<string, { plaintext: string }>;
const WITH_SUPERSEDES = '4a6d938dc7f931a170e14f9179e4bef90f01b9ee7c4a616b56309ca7ff738bda';
const PLAIN = 'ab322cf995a40969ee672de4147c0003664634b4a709a08ef1a3c0f2dd5dd78d';

describe('index codec on the fixture', () => {
  test('decodes both index files to what restic cat index shows, supersedes included', () => {
    for (const [id, { plaintext }] of Object.entries(plaintexts)) {
      assert.deepEqual(decodeIndex(Buffer.from(plaintext), id), expected.restic_cat_index[id]);
    }
    assert.deepEqual(decodeIndex(Buffer.from(plaintexts[WITH_SUPERSEDES]!.plaintext)).supersedes, ['acc2af490687c7e6ae4566d393b30b8694d6e4fa4e2f01a256aa3c76849f1e0d']);
  });

  test('re-encoding an index restic wrote without supersedes gives the same bytes (trailing newline included)', () => {
    const { plaintext } = plaintexts[PLAIN]!;
    assert.ok(plaintext.endsWith('}]}]}\n'));
    assert.equal(encodeIndex(decodeIndex(Buffer.from(plaintext)).packs).toString('utf8'), plaintext);
  });

  test('re-encoding the rebuild-index file gives restic bytes minus the supersedes field, which cairn never writes', () => {
    const { plaintext } = plaintexts[WITH_SUPERSEDES]!;
    const withoutSupersedes = plaintext.replace(/^\{"supersedes":\["[0-9a-f]{64}"\],/, '{');
    assert.notEqual(withoutSupersedes, plaintext);
    assert.equal(encodeIndex(decodeIndex(Buffer.from(plaintext)).packs).toString('utf8'), withoutSupersedes);
  });
});

describe('encodeIndex', () => {
  test('omits uncompressed_length for uncompressed blobs and writes an empty index as {"packs":[]}', () => {
    const packs: IndexPack[] = [{ id: 'a'.repeat(64), blobs: [{ id: 'b'.repeat(64), type: 'tree', offset: 0, length: 54, uncompressed_length: 13 }, { id: 'c'.repeat(64), type: 'data', offset: 54, length: 65 }] }];
    assert.equal(
      encodeIndex(packs).toString(),
      `{"packs":[{"id":"${'a'.repeat(64)}","blobs":[{"id":"${'b'.repeat(64)}","type":"tree","offset":0,"length":54,"uncompressed_length":13},{"id":"${'c'.repeat(64)}","type":"data","offset":54,"length":65}]}]}\n`,
    );
    assert.equal(encodeIndex([]).toString(), '{"packs":[]}\n');
  });
});

describe('decodeIndex', () => {
  test('rejects the legacy bare-array index with its own code and a remedy', () => {
    assert.throws(
      () => decodeIndex(Buffer.from(' [{"id":"' + 'a'.repeat(64) + '","blobs":[]}]')),
      (e: unknown) => e instanceof CairnError && e.code === 'legacy-index' && /repair index|rebuild-index/.test(e.remedy),
    );
  });

  test('ignores unknown fields and accepts upper-case ids', () => {
    const text = `{"packs":[{"id":"${'A'.repeat(64)}","extra":1,"blobs":[{"id":"${'B'.repeat(64)}","type":"data","offset":1,"length":2,"new":true}]}],"future":{}}`;
    assert.deepEqual(decodeIndex(Buffer.from(text)), { packs: [{ id: 'a'.repeat(64), blobs: [{ id: 'b'.repeat(64), type: 'data', offset: 1, length: 2 }] }] });
  });

  test('rejects malformed index files as bad-index', () => {
    const pack = (blob: string): string => `{"packs":[{"id":"${'a'.repeat(64)}","blobs":[${blob}]}]}`;
    for (const bad of [
      'garbage',
      '{"packs":{}}',
      pack(`{"id":"${'b'.repeat(64)}","type":"weird","offset":0,"length":1}`),
      pack(`{"id":"short","type":"data","offset":0,"length":1}`),
      pack(`{"id":"${'b'.repeat(64)}","type":"data","offset":-1,"length":1}`),
      '{"packs":[{"id":"xyz","blobs":[]}]}',
    ]) {
      assert.throws(() => decodeIndex(Buffer.from(bad), 'cafe'.repeat(16)), (e: unknown) => e instanceof CairnError && e.code === 'bad-index' && e.message.includes('cafecafe'), bad);
    }
  });
});
