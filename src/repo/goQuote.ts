// Go's strconv.Quote / strconv.Unquote for tree node names (format §10.4).
// restic stores each name as strconv.Quote(name) without the surrounding
// quotes, so a name's bytes (which may be invalid UTF-8) survive JSON.

/** Go's "printable" runes: Unicode L, M, N, P, S (U+0020 is handled separately). */
const PRINTABLE = /^[\p{L}\p{M}\p{N}\p{P}\p{S}]$/u;

/** Fast path: names made only of printable ASCII other than `"` and `\`. */
const PLAIN_ASCII = /^[\x20-\x21\x23-\x5b\x5d-\x7e]*$/;

const HEX = '0123456789abcdef';

/**
 * Decodes one rune at `i` exactly like Go's utf8.DecodeRune: returns
 * [codePoint, size], or [-1, 1] for a byte that does not start a valid UTF-8
 * sequence (overlong forms, surrogates and values above U+10FFFF are invalid).
 */
export function decodeRune(buf: Uint8Array, i: number): [number, number] {
  const b0 = buf[i]!;
  if (b0 < 0x80) return [b0, 1];
  const n = buf.length - i;
  const cont = (k: number, lo = 0x80, hi = 0xbf): boolean => {
    const b = buf[i + k];
    return b !== undefined && b >= lo && b <= hi;
  };
  if (b0 >= 0xc2 && b0 <= 0xdf) {
    if (n >= 2 && cont(1)) return [((b0 & 0x1f) << 6) | (buf[i + 1]! & 0x3f), 2];
    return [-1, 1];
  }
  if (b0 >= 0xe0 && b0 <= 0xef) {
    const lo = b0 === 0xe0 ? 0xa0 : 0x80;
    const hi = b0 === 0xed ? 0x9f : 0xbf;
    if (n >= 3 && cont(1, lo, hi) && cont(2)) {
      return [((b0 & 0x0f) << 12) | ((buf[i + 1]! & 0x3f) << 6) | (buf[i + 2]! & 0x3f), 3];
    }
    return [-1, 1];
  }
  if (b0 >= 0xf0 && b0 <= 0xf4) {
    const lo = b0 === 0xf0 ? 0x90 : 0x80;
    const hi = b0 === 0xf4 ? 0x8f : 0xbf;
    if (n >= 4 && cont(1, lo, hi) && cont(2) && cont(3)) {
      const cp = ((b0 & 0x07) << 18) | ((buf[i + 1]! & 0x3f) << 12) | ((buf[i + 2]! & 0x3f) << 6) | (buf[i + 3]! & 0x3f);
      return [cp, 4];
    }
    return [-1, 1];
  }
  return [-1, 1];
}

/** True for runes Go's strconv.IsPrint accepts (L, M, N, P, S and U+0020). */
export function isGoPrintable(cp: number): boolean {
  if (cp === 0x20) return true;
  if (cp > 0x20 && cp < 0x7f) return true;
  if (cp < 0xa0) return false;
  return PRINTABLE.test(String.fromCodePoint(cp));
}

function hex(v: number, width: number): string {
  let s = '';
  for (let k = width - 1; k >= 0; k--) s += HEX[(v >>> (4 * k)) & 0xf];
  return s;
}

/** The Go escape of one valid rune (quote, backslash, non-printable), or the rune itself. */
function quoteRune(cp: number): string {
  if (cp === 0x22) return '\\"';
  if (cp === 0x5c) return '\\\\';
  if (isGoPrintable(cp)) return String.fromCodePoint(cp);
  switch (cp) {
    case 0x07: return '\\a';
    case 0x08: return '\\b';
    case 0x0c: return '\\f';
    case 0x0a: return '\\n';
    case 0x0d: return '\\r';
    case 0x09: return '\\t';
    case 0x0b: return '\\v';
    default:
      if (cp < 0x20 || cp === 0x7f) return '\\x' + hex(cp, 2);
      if (cp < 0x10000) return '\\u' + hex(cp, 4);
      return '\\U' + hex(cp, 8);
  }
}

/**
 * Go's strconv.Quote(name) without the surrounding quotes: what restic
 * stores (before JSON encoding) as a node's name. Invalid UTF-8 bytes become
 * `\xHH`; non-printable runes become Go escapes.
 */
export function goQuote(nameBytes: Uint8Array): string {
  const buf = Buffer.from(nameBytes.buffer, nameBytes.byteOffset, nameBytes.byteLength);
  let out = '';
  for (let i = 0; i < buf.length; ) {
    const [cp, size] = decodeRune(buf, i);
    out += cp < 0 ? '\\x' + hex(buf[i]!, 2) : quoteRune(cp);
    i += size;
  }
  return out;
}

/**
 * goQuote of a JS string's UTF-8 bytes, without building them: the fast path
 * for valid names. A lone surrogate counts as U+FFFD (what its UTF-8 encoding gives).
 */
export function goQuoteString(name: string): string {
  if (PLAIN_ASCII.test(name)) return name;
  let out = '';
  for (const ch of name) {
    let cp = ch.codePointAt(0)!;
    if (cp >= 0xd800 && cp <= 0xdfff) cp = 0xfffd;
    out += quoteRune(cp);
  }
  return out;
}

/** Thrown by goUnquote for text Go's strconv.Unquote rejects. */
export class GoQuoteSyntaxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GoQuoteSyntaxError';
  }
}

const SIMPLE_ESCAPES: Record<string, number> = { a: 7, b: 8, f: 12, n: 10, r: 13, t: 9, v: 11, '\\': 0x5c, '"': 0x22 };

function parseHex(s: string, start: number, len: number): number {
  const part = s.slice(start, start + len);
  if (part.length !== len || !/^[0-9a-fA-F]+$/.test(part)) throw new GoQuoteSyntaxError(`bad \\x/\\u escape in ${JSON.stringify(s)}`);
  return parseInt(part, 16);
}

/**
 * Go's strconv.Unquote of `"` + s + `"`, returning raw bytes (a Go string may
 * hold invalid UTF-8, e.g. from `\xe9`). Throws GoQuoteSyntaxError where Go
 * would fail (unknown escape, bare `"`, literal newline, bad code point).
 */
export function goUnquote(s: string): Buffer {
  if (!/["\\\n]/.test(s)) return Buffer.from(s, 'utf8');
  const bytes: number[] = [];
  const pushUtf8 = (cp: number): void => {
    for (const b of Buffer.from(String.fromCodePoint(cp), 'utf8')) bytes.push(b);
  };
  let literalStart = 0;
  const flushLiteral = (end: number): void => {
    if (end > literalStart) for (const b of Buffer.from(s.slice(literalStart, end), 'utf8')) bytes.push(b);
  };
  let i = 0;
  while (i < s.length) {
    const c = s[i]!;
    if (c === '"') throw new GoQuoteSyntaxError(`unescaped quote in ${JSON.stringify(s)}`);
    if (c === '\n') throw new GoQuoteSyntaxError(`literal newline in ${JSON.stringify(s)}`);
    if (c !== '\\') {
      i++;
      continue;
    }
    flushLiteral(i);
    const e = s[i + 1];
    if (e === undefined) throw new GoQuoteSyntaxError(`trailing backslash in ${JSON.stringify(s)}`);
    const simple = SIMPLE_ESCAPES[e];
    if (simple !== undefined) {
      bytes.push(simple);
      i += 2;
    } else if (e === 'x') {
      bytes.push(parseHex(s, i + 2, 2));
      i += 4;
    } else if (e === 'u' || e === 'U') {
      const len = e === 'u' ? 4 : 8;
      const cp = parseHex(s, i + 2, len);
      if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) throw new GoQuoteSyntaxError(`invalid code point in ${JSON.stringify(s)}`);
      pushUtf8(cp);
      i += 2 + len;
    } else if (e >= '0' && e <= '7') {
      const oct = s.slice(i + 1, i + 4);
      if (!/^[0-7]{3}$/.test(oct)) throw new GoQuoteSyntaxError(`bad octal escape in ${JSON.stringify(s)}`);
      const v = parseInt(oct, 8);
      if (v > 255) throw new GoQuoteSyntaxError(`octal escape out of range in ${JSON.stringify(s)}`);
      bytes.push(v);
      i += 4;
    } else {
      throw new GoQuoteSyntaxError(`unknown escape \\${e} in ${JSON.stringify(s)}`);
    }
    literalStart = i;
  }
  flushLiteral(s.length);
  return Buffer.from(bytes);
}
