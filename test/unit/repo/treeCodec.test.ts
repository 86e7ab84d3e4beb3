// Tree blobs (format §10): cairn's encoder must reproduce restic's bytes (so
// trees dedup against restic's) and its reader must take whatever restic wrote.
// Checked against the fixture trees and against trees the installed restic writes.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { CairnError } from '../../../src/errors.js';
import type { Node } from '../../../src/repo/node.js';
import { decodeTree, EMPTY_TREE_ID, EMPTY_TREE_PLAINTEXT, encodeNode, encodeTree } from '../../../src/repo/treeCodec.js';
import { expected } from '../../helpers/fixture.js';

const run = promisify(execFile);
const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const fixtureTrees = Object.entries(expected.spec_check.tree_blob_plaintext as Record<string, string>);

function fileNode(name: string, extra: Partial<Node> = {}): Node {
  const t = '2024-01-01T00:00:00Z';
  return { name, type: 'file', mode: 420, mtime: t, atime: t, ctime: t, uid: 0, gid: 0, content: [], ...extra };
}

describe('tree codec on the fixture', () => {
  test('re-encoding every tree restic wrote gives the same bytes, hence the same tree id', () => {
    assert.equal(fixtureTrees.length, 9);
    for (const [id, plaintext] of fixtureTrees) {
      const encoded = encodeTree(decodeTree(Buffer.from(plaintext, 'utf8'), id).nodes);
      assert.equal(encoded.toString('utf8'), plaintext, id);
      assert.equal(sha256(encoded), id);
    }
  });

  test('names come back unquoted, as restic ls shows them', () => {
    const [, root] = fixtureTrees.find(([id]) => id.startsWith('a1232121'))!;
    const names = decodeTree(Buffer.from(root)).nodes.map((n) => n.name);
    const ls = (expected.restic_ls_json['f68e72b51a39ed3a8793707462e5f20b0af9e2ce0c73515d162d549329351c3b'] as { path?: string; name?: string }[])
      .filter((e) => e.path !== undefined && e.path.lastIndexOf('/') === 0)
      .map((e) => e.name);
    assert.deepEqual(names, ls);
    assert.ok(names.includes('weird "quote" back\\slash\ttab é <&>.txt'));
  });

  test('files carry their content list ([] when empty), other nodes null content', () => {
    const [, root] = fixtureTrees.find(([id]) => id.startsWith('a1232121'))!;
    const nodes = new Map(decodeTree(Buffer.from(root)).nodes.map((n) => [n.name, n]));
    assert.deepEqual(nodes.get('empty.txt')!.content, []);
    assert.equal(nodes.get('random.bin')!.content!.length, 4);
    assert.equal(nodes.get('bin')!.content, null);
    assert.equal(nodes.get('emptydir')!.subtree, EMPTY_TREE_ID);
    assert.equal(nodes.get('dangling-link')!.linktarget, 'does/not/exist');
    assert.equal(nodes.get('private.txt')!.inode, 2262830n);
    assert.deepEqual(nodes.get('private.txt')!.extended_attributes, [{ name: 'user.cairn.fixture', value: 'eGF0dHItdmFsdWUtMQ==' }]);
  });

  test('an empty directory is the 13-byte empty tree', () => {
    assert.equal(encodeTree([]).toString(), EMPTY_TREE_PLAINTEXT);
    assert.equal(sha256(encodeTree([])), EMPTY_TREE_ID);
  });
});

describe('encodeTree', () => {
  test('sorts nodes by raw name bytes, not UTF-16 order', () => {
    // UTF-16 puts U+1F600 (surrogates D83D…) before U+FF21; UTF-8 bytes put U+FF21 (EF…) first.
    const nodes = [fileNode('😀'), fileNode('\uff21'), fileNode('b'), fileNode('B'), fileNode('a', { nameRaw: Buffer.from([0xe9]) })];
    const names = JSON.parse(encodeTree(nodes).toString()).nodes.map((n: { name: string }) => n.name);
    assert.deepEqual(names, ['B', 'b', '\\xe9', '\uff21', '😀']);
  });

  test('refuses two entries with the same name', () => {
    assert.throws(
      () => encodeTree([fileNode('x'), fileNode('x')]),
      (e: unknown) => e instanceof CairnError && e.code === 'duplicate-node-name' && e.message.includes('"x"'),
    );
  });

  test('writes fields in restic order with omitempty, content null for non-files', () => {
    const dir: Node = { name: 'd', type: 'dir', mode: 2147484141, mtime: '2023-03-01T01:00:00+01:00', atime: '2023-03-01T01:00:00+01:00', ctime: '2023-03-01T01:00:00+01:00', uid: 0, gid: 0, content: null, subtree: EMPTY_TREE_ID };
    assert.equal(
      encodeNode(dir),
      `{"name":"d","type":"dir","mode":2147484141,"mtime":"2023-03-01T01:00:00+01:00","atime":"2023-03-01T01:00:00+01:00","ctime":"2023-03-01T01:00:00+01:00","uid":0,"gid":0,"content":null,"subtree":"${EMPTY_TREE_ID}"}`,
    );
    const dev: Node = { ...fileNode('sda'), type: 'dev', mode: 67109296, content: null, device: 2049n, links: 1, user: 'root', group: 'disk', error: 'partial <read>' };
    assert.equal(
      encodeNode(dev),
      '{"name":"sda","type":"dev","mode":67109296,"mtime":"2024-01-01T00:00:00Z","atime":"2024-01-01T00:00:00Z","ctime":"2024-01-01T00:00:00Z","uid":0,"gid":0,"user":"root","group":"disk","links":1,"device":2049,"content":null,"error":"partial \\u003cread\\u003e"}',
    );
  });

  test('writes times as Go does, whatever valid spelling the node holds', () => {
    const text = encodeNode(fileNode('t', { mtime: '2024-01-01T00:00:00.500+00:00' }));
    assert.match(text, /"mtime":"2024-01-01T00:00:00.5Z"/);
    assert.throws(() => encodeNode(fileNode('t', { mtime: 'yesterday' })), RangeError);
  });

  test('derives linktarget from linktarget_raw when the target is not UTF-8, as restic 0.16+ does', () => {
    const raw = Buffer.from([0x74, 0x67, 0x74, 0xe9]);
    const link: Node = { ...fileNode('l'), type: 'symlink', mode: 134218239, content: null, linktarget: 'tgt\ufffd', linktarget_raw: raw.toString('base64') };
    assert.match(encodeNode(link), /"linktarget":"tgt\\ufffd","linktarget_raw":"dGd06Q==","content":null/);
  });

  test('writes generic_attributes with sorted keys', () => {
    const text = encodeNode(fileNode('w', { generic_attributes: { 'windows.file_attributes': 'IAAAAA==', 'windows.creation_time': 'AAAA' } }));
    assert.match(text, /"generic_attributes":\{"windows.creation_time":"AAAA","windows.file_attributes":"IAAAAA=="\},"content":\[\]/);
  });
});

describe('decodeTree', () => {
  test('keeps uint64 fields above 2^53 exact and writes them back unchanged', () => {
    const text = '{"nodes":[{"name":"big","type":"chardev","mode":69206454,"mtime":"2024-01-01T00:00:00Z","atime":"2024-01-01T00:00:00Z","ctime":"2024-01-01T00:00:00Z","uid":4294967295,"gid":0,"inode":18446744073709551615,"device_id":9007199254740993,"links":1,"device":9223372036854775807,"content":null}]}\n';
    const [node] = decodeTree(Buffer.from(text)).nodes;
    assert.equal(node!.inode, 18446744073709551615n);
    assert.equal(node!.device_id, 9007199254740993n);
    assert.equal(node!.device, 9223372036854775807n);
    assert.equal(node!.uid, 4294967295);
    assert.equal(encodeTree([node!]).toString(), text);
  });

  test('sets nameRaw only for names that are not valid UTF-8', () => {
    const text = '{"nodes":[{"name":"\\\\xe9t\\\\xe9","type":"fifo","mtime":"2024-01-01T00:00:00Z","atime":"2024-01-01T00:00:00Z","ctime":"2024-01-01T00:00:00Z","uid":0,"gid":0,"content":null},{"name":"\\\\u00e9t\\\\u00e9","type":"fifo","mtime":"2024-01-01T00:00:00Z","atime":"2024-01-01T00:00:00Z","ctime":"2024-01-01T00:00:00Z","uid":0,"gid":0,"content":null}]}\n';
    const [latin1, utf8] = decodeTree(Buffer.from(text)).nodes;
    assert.deepEqual(latin1!.nameRaw, Buffer.from([0xe9, 0x74, 0xe9]));
    assert.equal(utf8!.name, 'été');
    assert.equal(utf8!.nameRaw, undefined);
    // U+00E9 is printable, so it is written raw (C3 A9 sorts before the lone byte E9).
    assert.match(encodeTree([latin1!, utf8!]).toString(), /"name":"été".*"name":"\\\\xe9t\\\\xe9"/);
  });

  test('reads leniently: whitespace, unknown keys, missing fields as Go zero values', () => {
    const text = ' { "version" : 7 ,\n "nodes" : [ { "name" : "x" , "type" : "file" , "future" : {"a":[1]} , "content" : [ ] } ] , "more": null }\n';
    const [node] = decodeTree(Buffer.from(text)).nodes;
    assert.deepEqual(node, { name: 'x', type: 'file', mtime: '0001-01-01T00:00:00Z', atime: '0001-01-01T00:00:00Z', ctime: '0001-01-01T00:00:00Z', uid: 0, gid: 0, content: [] });
    assert.deepEqual(decodeTree(Buffer.from('{}')).nodes, []);
  });

  test('rejects an unknown node type, naming the node', () => {
    const text = '{"nodes":[{"name":"odd one","type":"whiteout","content":null}]}';
    assert.throws(
      () => decodeTree(Buffer.from(text), 'ab'.repeat(32)),
      (e: unknown) => e instanceof CairnError && e.code === 'bad-tree' && e.message.includes('"odd one"') && e.message.includes('whiteout') && e.message.includes('abababab'),
    );
  });

  test('rejects malformed trees with a CairnError', () => {
    for (const bad of ['not json', '[]', '{"nodes":{}}', '{"nodes":[{"name":"a\\"b","type":"file"}]}', '{"nodes":[{"name":"a","type":"file","inode":-1}]}', '{"nodes":[{"name":"a","type":"file","content":["xyz"]}]}', '{"nodes":[{"name":"a","type":"file","mtime":"soon"}]}']) {
      assert.throws(() => decodeTree(Buffer.from(bad)), (e: unknown) => e instanceof CairnError && e.code === 'bad-tree', bad);
    }
  });
});

describe('tree codec against the installed restic', () => {
  let dir = '';
  let treeBytes = Buffer.alloc(0);
  let treeId = '';
  // Names whose quoting is tricky. Characters assigned after Unicode 13 are left
  // out on purpose: Go 1.19 (restic 0.14) escapes them, cairn prints them raw.
  const names: Buffer[] = [
    'a\x01b', 'a\u00a0b', 'ü😀', '<&>', 'new\nline', 'tab\t', 'del\x7f', 'bs\bff\f', 'x\u2028y\u2029',
    'zw\u200b', '\u{e0001}tag', 'rep\ufffd', 'bell\x07vt\x0b', 'q"b\\', '\u0378unassigned', '\u3000ideo', '\ue000pua', '\u{1f600}smile',
  ].map((s) => Buffer.from(s, 'utf8'));
  names.push(Buffer.from([0xe9]), Buffer.from([0xed, 0xa0, 0x80, 0x73]), Buffer.from([0xf4, 0x90, 0x80, 0x80]), Buffer.from([0xc0, 0xaf]));

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'cairn-tree-'));
    const src = path.join(dir, 'src');
    await mkdir(src);
    const srcBytes = Buffer.from(src + '/');
    for (const n of names) await writeFile(Buffer.concat([srcBytes, n]), 'x');
    await symlink('target <&> é', path.join(src, 'link'));
    await mkdir(path.join(src, 'sub'));
    const env = { ...process.env, RESTIC_PASSWORD: 'pw', RESTIC_REPOSITORY: path.join(dir, 'repo'), TZ: 'Asia/Kolkata' };
    await run('restic', ['init', '--no-cache'], { env });
    await run('restic', ['backup', '--no-cache', '-q', '.'], { env, cwd: src });
    const snaps = JSON.parse((await run('restic', ['snapshots', '--no-cache', '--json'], { env })).stdout) as { tree: string }[];
    treeId = snaps[0]!.tree;
    treeBytes = (await run('restic', ['cat', '--no-cache', 'blob', treeId], { env, encoding: 'buffer', maxBuffer: 1 << 24 })).stdout as Buffer;
  });
  after(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('decoding and re-encoding a restic tree with tricky names gives restic bytes and tree id', () => {
    const tree = decodeTree(treeBytes, treeId);
    assert.equal(tree.nodes.length, names.length + 2);
    const encoded = encodeTree([...tree.nodes].reverse());
    assert.equal(encoded.toString('utf8'), treeBytes.toString('utf8'));
    assert.equal(sha256(encoded), treeId);
  });

  test('decoded names are the on-disk name bytes', () => {
    const decoded = decodeTree(treeBytes).nodes.map((n) => n.nameRaw ?? Buffer.from(n.name, 'utf8'));
    for (const n of names) assert.ok(decoded.some((d) => d.equals(n)), n.toString('hex'));
  });
});
