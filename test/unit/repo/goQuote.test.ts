// Go's strconv.Quote/Unquote for node names (format §10.4). The expected
// texts were recorded from trees the real restic 0.14 (Go 1.19) wrote.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { GoQuoteSyntaxError, goQuote, goUnquote } from '../../../src/repo/goQuote.js';

const b = (s: string): Buffer => Buffer.from(s, 'utf8');

/** [name bytes, Go-quoted text (before JSON encoding)] as restic 0.14 wrote them. */
const RESTIC_014_NAMES: [Buffer, string][] = [
  [b('weird "quote" back\\slash\ttab é <&>.txt'), 'weird \\"quote\\" back\\\\slash\\ttab é <&>.txt'],
  [b('a\x01b'), 'a\\x01b'],
  [b('a\u00a0b'), 'a\\u00a0b'],
  [Buffer.from([0xe9]), '\\xe9'],
  [b('ü😀'), 'ü😀'],
  [b('<&>'), '<&>'],
  [b('new\nline'), 'new\\nline'],
  [b('bell\x07vt\x0b'), 'bell\\avt\\v'],
  [b('bs\bff\f'), 'bs\\bff\\f'],
  [b('del\x7f'), 'del\\x7f'],
  [b('x\u2028y\u2029'), 'x\\u2028y\\u2029'],
  [b('zw\u200b'), 'zw\\u200b'],
  [b('\u{e0001}tag'), '\\U000e0001tag'],
  [b('\u0378unassigned'), '\\u0378unassigned'],
  [b('\u3000ideo'), '\\u3000ideo'],
  [b('rep\ufffd'), 'rep\ufffd'],
  [Buffer.concat([Buffer.from([0xed, 0xa0, 0x80]), b('sur')]), '\\xed\\xa0\\x80sur'],
  [Buffer.concat([Buffer.from([0xf4, 0x90, 0x80, 0x80]), b('big')]), '\\xf4\\x90\\x80\\x80big'],
  [Buffer.concat([Buffer.from([0xc0, 0xaf]), b('over')]), '\\xc0\\xafover'],
];

describe('goQuote', () => {
  test('quotes names exactly as restic 0.14 stored them', () => {
    for (const [bytes, quoted] of RESTIC_014_NAMES) assert.equal(goQuote(bytes), quoted, bytes.toString('hex'));
  });

  test('leaves plain printable ASCII and space alone', () => {
    assert.equal(goQuote(b('README.txt')), 'README.txt');
    assert.equal(goQuote(b('a b~!')), 'a b~!');
  });

  test('escapes a truncated multi-byte sequence byte by byte', () => {
    assert.equal(goQuote(Buffer.from([0x61, 0xe2, 0x82])), 'a\\xe2\\x82');
  });
});

describe('goUnquote', () => {
  test('inverts goQuote for every recorded name, including invalid UTF-8', () => {
    for (const [bytes, quoted] of RESTIC_014_NAMES) assert.deepEqual(goUnquote(quoted), bytes, quoted);
  });

  test('accepts every escape Go accepts: octal, \\u, \\U, \\x and the single-letter ones', () => {
    assert.deepEqual(goUnquote('\\101\\x42\\u0043\\U00000044'), b('ABCD'));
    assert.deepEqual(goUnquote('\\a\\b\\f\\n\\r\\t\\v\\\\\\"'), b('\x07\b\f\n\r\t\v\\"'));
    assert.deepEqual(goUnquote('\\377'), Buffer.from([0xff]));
  });

  test('rejects what Go rejects: bare quote, literal newline, unknown escape, surrogate, octal > 255', () => {
    for (const bad of ['a"b', 'a\nb', '\\q', "\\'", '\\ud800', '\\U00110000', '\\400', '\\x4', 'end\\']) {
      assert.throws(() => goUnquote(bad), GoQuoteSyntaxError, JSON.stringify(bad));
    }
  });
});
