// Go's encoding/json as restic uses it (format §10.6): HTML-safe string
// escaping, struct fields in declaration order with omitempty, and a reader
// that keeps integers above 2^53 exact. JSON.stringify differs (no HTML or
// U+2028/9 escaping), so restic's bytes need this encoder.
import { isUtf8 } from 'node:buffer';
import { decodeRune } from './goQuote.js';

const HEX = '0123456789abcdef';

/** Characters that force the slow path: quote, backslash, controls, HTML, U+2028/9, lone surrogates. */
const NEEDS_ESCAPE = /["\\\u0000-\u001f<>&\u2028\u2029\ud800-\udfff]/u;

function escapeAscii(c: number): string {
  switch (c) {
    case 0x22: return '\\"';
    case 0x5c: return '\\\\';
    case 0x0a: return '\\n';
    case 0x0d: return '\\r';
    case 0x09: return '\\t';
    // Go < 1.22 (restic 0.14 is built with Go 1.19) writes \b and \f as \u0008 / \u000c.
    default: return '\\u00' + HEX[c >> 4] + HEX[c & 0xf];
  }
}

function needsAsciiEscape(c: number): boolean {
  return c < 0x20 || c === 0x22 || c === 0x5c || c === 0x3c || c === 0x3e || c === 0x26;
}

/**
 * A JSON string literal (with quotes) exactly as Go's json.Marshal writes it:
 * `<`, `>`, `&`, U+2028, U+2029 and controls escaped, everything else raw.
 * A Buffer is treated as Go string bytes: invalid UTF-8 becomes `\ufffd`
 * per bad byte; a JS string's lone surrogates also become `\ufffd`.
 */
export function goJsonString(value: string | Uint8Array): string {
  if (typeof value !== 'string') {
    const buf = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
    if (isUtf8(buf)) return goJsonString(buf.toString('utf8'));
    let out = '"';
    for (let i = 0; i < buf.length; ) {
      const [cp, size] = decodeRune(buf, i);
      if (cp < 0) out += '\\ufffd';
      else if (cp < 0x80) out += needsAsciiEscape(cp) ? escapeAscii(cp) : String.fromCharCode(cp);
      else if (cp === 0x2028 || cp === 0x2029) out += '\\u' + cp.toString(16);
      else out += String.fromCodePoint(cp);
      i += size;
    }
    return out + '"';
  }
  if (!NEEDS_ESCAPE.test(value)) return '"' + value + '"';
  let out = '"';
  let start = 0;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    let rep: string | undefined;
    if (c < 0x80) {
      if (needsAsciiEscape(c)) rep = escapeAscii(c);
    } else if (c === 0x2028 || c === 0x2029) {
      rep = '\\u' + c.toString(16);
    } else if (c >= 0xd800 && c <= 0xdbff) {
      const next = value.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) i++;
      else rep = '\\ufffd';
    } else if (c >= 0xdc00 && c <= 0xdfff) {
      rep = '\\ufffd';
    }
    if (rep !== undefined) {
      out += value.slice(start, i) + rep;
      start = i + 1;
    }
  }
  return out + value.slice(start) + '"';
}

/** A non-negative integer in decimal, as Go prints uint/uint64 (number or bigint). */
export function goJsonUint(value: number | bigint, what = 'value'): string {
  if (typeof value === 'bigint') {
    if (value < 0n || value > 0xffffffffffffffffn) throw new RangeError(`${what} ${value} does not fit in uint64`);
    return value.toString();
  }
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`${what} ${value} is not a non-negative safe integer`);
  return String(value);
}

/** A signed integer in decimal, as Go prints int. */
export function goJsonInt(value: number, what = 'value'): string {
  if (!Number.isSafeInteger(value)) throw new RangeError(`${what} ${value} is not a safe integer`);
  return String(value);
}

/** A JSON array of strings, each Go-encoded; `null` for a missing array (Go nil slice). */
export function goJsonStringArray(values: readonly string[] | null | undefined): string {
  if (values == null) return 'null';
  let out = '[';
  for (let i = 0; i < values.length; i++) out += (i === 0 ? '' : ',') + goJsonString(values[i]!);
  return out + ']';
}

/**
 * Any JSON-like JS value in Go's compact, HTML-safe form (object keys in
 * insertion order, as Go keeps them in a json.RawMessage). bigint prints as
 * an integer. Used for free-form values such as generic_attributes.
 */
export function goJsonValue(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  switch (typeof value) {
    case 'string': return goJsonString(value);
    case 'boolean': return value ? 'true' : 'false';
    case 'bigint': return value.toString();
    case 'number':
      if (!Number.isFinite(value)) throw new RangeError(`cannot encode ${value} as JSON`);
      return JSON.stringify(value);
    case 'object': {
      if (Array.isArray(value)) return '[' + value.map(goJsonValue).join(',') + ']';
      if (value instanceof Uint8Array) return goJsonString(Buffer.from(value).toString('base64'));
      const parts: string[] = [];
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) parts.push(goJsonString(k) + ':' + goJsonValue(v));
      return '{' + parts.join(',') + '}';
    }
    default:
      throw new TypeError(`cannot encode a ${typeof value} as JSON`);
  }
}

/** A JSON value as parsed by parseJsonLossless: integers beyond 2^53 are bigints. */
export type JsonValue = null | boolean | number | bigint | string | JsonValue[] | { [key: string]: JsonValue };

/**
 * Builds one JSON object field by field in a fixed (Go struct) order, with
 * Go's `omitempty` rules per field. `toString()` gives the compact text.
 */
export class GoJsonObject {
  private out = '';
  private static readonly keys = new Map<string, string>();

  /** Adds a field whose value is already JSON text; `undefined` omits it. */
  raw(key: string, json: string | undefined): this {
    if (json === undefined) return this;
    let k = GoJsonObject.keys.get(key);
    if (k === undefined) {
      k = goJsonString(key) + ':';
      if (GoJsonObject.keys.size < 1000) GoJsonObject.keys.set(key, k);
    }
    this.out += (this.out === '' ? '' : ',') + k + json;
    return this;
  }

  /** A string field; with omitEmpty, '' and undefined are left out. */
  string(key: string, value: string | undefined, omitEmpty = false): this {
    if (value === undefined || value === '') return omitEmpty ? this : this.raw(key, '""');
    return this.raw(key, goJsonString(value));
  }

  /** An unsigned integer field; with omitEmpty, 0 and undefined are left out. */
  uint(key: string, value: number | bigint | undefined, omitEmpty = false): this {
    if (value === undefined || value === 0 || value === 0n) return omitEmpty ? this : this.raw(key, '0');
    return this.raw(key, goJsonUint(value, key));
  }

  /** A uint32 field (Go uint32: mode, uid, gid); with omitEmpty, 0 and undefined are left out. */
  uint32(key: string, value: number | undefined, omitEmpty = false): this {
    if (value !== undefined && (!Number.isInteger(value) || value < 0 || value > 0xffffffff)) {
      throw new RangeError(`${key} ${value} does not fit in uint32`);
    }
    return this.uint(key, value, omitEmpty);
  }

  /** A signed integer field; with omitEmpty, 0 and undefined are left out. */
  int(key: string, value: number | undefined, omitEmpty = false): this {
    if (value === undefined || value === 0) return omitEmpty ? this : this.raw(key, '0');
    return this.raw(key, goJsonInt(value, key));
  }

  /** A boolean field; with omitEmpty, false and undefined are left out. */
  bool(key: string, value: boolean | undefined, omitEmpty = false): this {
    if (!value) return omitEmpty ? this : this.raw(key, 'false');
    return this.raw(key, 'true');
  }

  /** A string-array field; with omitEmpty, empty and missing arrays are left out; else missing is `null`. */
  stringArray(key: string, value: readonly string[] | null | undefined, omitEmpty = false): this {
    if (omitEmpty && (value == null || value.length === 0)) return this;
    return this.raw(key, goJsonStringArray(value));
  }

  /** The object's compact JSON text. */
  toString(): string {
    return '{' + this.out + '}';
  }
}

class JsonSyntaxError extends SyntaxError {}

/**
 * JSON.parse that keeps integers exact: integer literals beyond
 * Number.MAX_SAFE_INTEGER become bigint. Objects have no prototype, so keys
 * such as `__proto__` are plain data; for duplicate keys the last one wins
 * (as in Go). Throws SyntaxError on malformed input.
 */
export function parseJsonLossless(text: string): JsonValue {
  let i = 0;
  const fail = (what: string): never => {
    throw new JsonSyntaxError(`${what} at offset ${i}`);
  };
  const ws = (): void => {
    for (;;) {
      const c = text.charCodeAt(i);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) i++;
      else return;
    }
  };
  const numberRe = /-?(?:0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/y;
  const parseString = (): string => {
    const start = i; // at the opening quote
    let j = i + 1;
    let escaped = false;
    for (;;) {
      const c = text.charCodeAt(j);
      if (Number.isNaN(c)) fail('unterminated string');
      if (c === 0x22) break;
      if (c === 0x5c) {
        escaped = true;
        j += 2;
        continue;
      }
      if (c < 0x20) {
        i = j;
        fail('control character in string');
      }
      j++;
    }
    i = j + 1;
    if (!escaped) return text.slice(start + 1, j);
    try {
      return JSON.parse(text.slice(start, j + 1)) as string;
    } catch {
      i = start;
      return fail('bad escape in string');
    }
  };
  const parseValue = (): JsonValue => {
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      const obj = Object.create(null) as { [key: string]: JsonValue };
      ws();
      if (text[i] === '}') {
        i++;
        return obj;
      }
      for (;;) {
        ws();
        if (text[i] !== '"') fail('expected a key');
        const key = parseString();
        ws();
        if (text[i] !== ':') fail('expected ":"');
        i++;
        obj[key] = parseValue();
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === '}') {
          i++;
          return obj;
        }
        fail('expected "," or "}"');
      }
    }
    if (c === '[') {
      i++;
      const arr: JsonValue[] = [];
      ws();
      if (text[i] === ']') {
        i++;
        return arr;
      }
      for (;;) {
        arr.push(parseValue());
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === ']') {
          i++;
          return arr;
        }
        fail('expected "," or "]"');
      }
    }
    if (c === '"') return parseString();
    if (text.startsWith('true', i)) {
      i += 4;
      return true;
    }
    if (text.startsWith('false', i)) {
      i += 5;
      return false;
    }
    if (text.startsWith('null', i)) {
      i += 4;
      return null;
    }
    numberRe.lastIndex = i;
    const m = numberRe.exec(text);
    if (m === null) return fail('unexpected character');
    i += m[0].length;
    const n = Number(m[0]);
    if (m[1] === undefined && m[2] === undefined && !Number.isSafeInteger(n)) return BigInt(m[0]);
    return n;
  };
  const v = parseValue();
  ws();
  if (i !== text.length) fail('unexpected data after the value');
  return v;
}
