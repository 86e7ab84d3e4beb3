// Go's encoding/json string encoding and struct-order objects (format §10.6),
// and the lossless JSON reader.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { GoJsonObject, goJsonString, goJsonUint, goJsonValue, parseJsonLossless } from '../../../src/repo/goJson.js';

describe('goJsonString', () => {
  test('escapes <, > and & the HTML-safe way, like Go', () => {
    assert.equal(goJsonString('a<b>&c'), '"a\\u003cb\\u003e\\u0026c"');
  });

  test('escapes U+2028 and U+2029, which JSON.stringify leaves raw', () => {
    assert.equal(goJsonString('x\u2028y\u2029'), '"x\\u2028y\\u2029"');
  });

  test('writes controls as Go 1.19 does: \\n \\r \\t short, \\b and \\f as \\u0008 \\u000c', () => {
    assert.equal(goJsonString('\n\r\t\b\f\x01\x1f'), '"\\n\\r\\t\\u0008\\u000c\\u0001\\u001f"');
  });

  test('escapes quote and backslash, keeps DEL and non-ASCII raw', () => {
    assert.equal(goJsonString('"\\\x7fé😀'), '"\\"\\\\\x7fé😀"');
  });

  test('turns each invalid UTF-8 byte of a Buffer into \\ufffd', () => {
    assert.equal(goJsonString(Buffer.from([0x74, 0xe9, 0x3c, 0xed, 0xa0, 0x80])), '"t\\ufffd\\u003c\\ufffd\\ufffd\\ufffd"');
    assert.equal(goJsonString(Buffer.from('ok é <', 'utf8')), '"ok é \\u003c"');
  });

  test('turns a lone surrogate of a JS string into \\ufffd', () => {
    assert.equal(goJsonString('a\ud800b'), '"a\\ufffdb"');
  });
});

describe('GoJsonObject', () => {
  test('writes fields in the order given and drops omitempty zero values', () => {
    const text = new GoJsonObject()
      .string('name', 'x')
      .uint('mode', 0, true)
      .uint('uid', 0)
      .string('user', '', true)
      .uint('inode', 2n ** 63n, true)
      .stringArray('tags', [], true)
      .stringArray('paths', ['/a'])
      .bool('exclusive', false)
      .raw('content', 'null')
      .raw('subtree', undefined)
      .toString();
    assert.equal(text, '{"name":"x","uid":0,"inode":9223372036854775808,"paths":["/a"],"exclusive":false,"content":null}');
  });

  test('refuses numbers it cannot write exactly', () => {
    assert.throws(() => goJsonUint(2 ** 53), RangeError);
    assert.throws(() => goJsonUint(-1), RangeError);
    assert.throws(() => goJsonUint(2n ** 64n), RangeError);
    assert.throws(() => new GoJsonObject().uint32('mode', 2 ** 32), RangeError);
  });
});

describe('goJsonValue', () => {
  test('encodes nested values compactly with Go escaping and exact bigints', () => {
    assert.equal(goJsonValue({ a: [1, 'x<'], b: 18446744073709551615n, c: null, d: true }), '{"a":[1,"x\\u003c"],"b":18446744073709551615,"c":null,"d":true}');
  });
});

describe('parseJsonLossless', () => {
  test('keeps integers above 2^53 exact as bigint and small ones as numbers', () => {
    const v = parseJsonLossless(' {"big": 18446744073709551615, "small": 42, "neg": -9007199254740993, "f": 1.5e3} ') as Record<string, unknown>;
    assert.equal(v['big'], 18446744073709551615n);
    assert.equal(v['small'], 42);
    assert.equal(v['neg'], -9007199254740993n);
    assert.equal(v['f'], 1500);
  });

  test('reads strings with escapes, nested arrays, and treats __proto__ as a plain key', () => {
    const v = parseJsonLossless('{"s":"a\\"b\\u00e9","l":[[],{}],"__proto__":{"x":1},"t":[true,false,null]}') as Record<string, unknown>;
    assert.equal(v['s'], 'a"bé');
    assert.deepEqual(v['l'], [[], Object.create(null)]);
    assert.deepEqual(Object.keys(v), ['s', 'l', '__proto__', 't']);
    assert.deepEqual(v['t'], [true, false, null]);
  });

  test('rejects malformed JSON', () => {
    for (const bad of ['{', '{"a":}', '[1,]', '"abc', '{"a":1} x', 'tru', '{"a":"\u0001"}']) {
      assert.throws(() => parseJsonLossless(bad), SyntaxError, bad);
    }
  });
});
