// Text content for the bench data sets, made from templates: server logs, JSON lines, SQL dumps, CSV and
// source-like snippets. It compresses the way real text does (repeated structure, varying values),
// and it is generated fast enough (~100 MiB/s) not to dominate a bench run.
import type { SeededRandom } from './random.js';

/** The kinds of text file the data set holds. */
export type TextKind = 'log' | 'jsonl' | 'sql' | 'csv' | 'code';

/** File extension of each kind. */
export const textExtension: Record<TextKind, string> = { log: 'log', jsonl: 'jsonl', sql: 'sql', csv: 'csv', code: 'ts' };

const words = (
  'the a request user session cache index backup restore volume snapshot container service database ' +
  'table row column query worker job queue retry timeout connection client server upstream proxy ' +
  'token auth login logout upload download file folder path chunk blob pack tree lock key config ' +
  'error warning notice failed started finished accepted rejected closed opened pending running ' +
  'healthy degraded slow fast large small new old primary replica leader follower node cluster ' +
  'metrics latency bytes records events items batch stream pipeline schedule cron daily weekly ' +
  'alpha beta gamma delta north south east west red green blue orange invoice order customer ' +
  'product price quantity address city country street email phone status total amount currency'
).split(' ');
const levels = ['INFO', 'INFO', 'INFO', 'INFO', 'DEBUG', 'DEBUG', 'WARN', 'ERROR'];
const services = ['api', 'auth', 'billing', 'worker', 'scheduler', 'gateway', 'storage', 'search', 'mailer', 'web'];
const methods = ['GET', 'GET', 'GET', 'POST', 'PUT', 'DELETE', 'PATCH'];
const routes = ['/api/v1/users', '/api/v1/orders', '/api/v1/items', '/login', '/logout', '/static/app.js', '/health', '/api/v2/search', '/upload', '/metrics'];
const statuses = [200, 200, 200, 200, 201, 204, 301, 304, 400, 401, 403, 404, 500, 502];
const cities = ['Berlin', 'Paris', 'Lisbon', 'Oslo', 'Madrid', 'Vienna', 'Prague', 'Dublin', 'Warsaw', 'Zurich', 'Athens', 'Rome'];
const names = ['Anna', 'Ben', 'Clara', 'David', 'Eva', 'Felix', 'Greta', 'Hugo', 'Ida', 'Jonas', 'Karin', 'Leon', 'Mia', 'Noah', 'Olga', 'Paul'];
const codeLines = [
  'import { readFile } from "node:fs/promises";',
  'export function parse(input: string): Result {',
  '  const parts = input.split(",").map((p) => p.trim());',
  '  if (parts.length === 0) return { ok: false, error: "empty" };',
  '  for (const part of parts) {',
  '    total += Number(part) || 0;',
  '  }',
  '  return { ok: true, value: total };',
  '}',
  '// keep the cache small: entries older than a day are dropped',
  'server.listen(port, "127.0.0.1");',
  '[section]',
  'enabled = true',
  'retries = 3',
  'timeout_seconds = 30',
  '',
];

const sentence = (r: SeededRandom, n: number): string => {
  let s = r.pick(words);
  for (let i = 1; i < n; i++) s += ' ' + r.pick(words);
  return s;
};
const ip = (r: SeededRandom): string => `10.${r.int(0, 3)}.${r.int(0, 255)}.${r.int(1, 254)}`;
// Date#toISOString per line is the generator's bottleneck: format each minute once, then append seconds and milliseconds.
let isoMinute = -1;
let isoPrefix = '';
const pad2 = (n: number): string => (n < 10 ? '0' : '') + n;
const pad3 = (n: number): string => (n < 10 ? '00' : n < 100 ? '0' : '') + n;
const isoTime = (ms: number): string => {
  const min = Math.floor(ms / 60000);
  if (min !== isoMinute) {
    isoMinute = min;
    isoPrefix = new Date(min * 60000).toISOString().slice(0, 17);
  }
  const rest = ms - min * 60000;
  const sec = Math.floor(rest / 1000);
  return `${isoPrefix}${pad2(sec)}.${pad3(rest - sec * 1000)}Z`;
};
/** A price-like decimal with two digits ("123.45") without float-to-string conversion. */
const cents = (n: number): string => `${Math.floor(n / 100)}.${pad2(n % 100)}`;
const hex12 = (r: SeededRandom): string => r.uint32().toString(16).padStart(8, '0') + (r.uint32() & 0xffff).toString(16).padStart(4, '0');

/** Makes lines of one kind; `state` carries what must continue across calls (clock, row ids). */
interface LineState {
  clock: number;
  row: number;
}

function line(kind: TextKind, r: SeededRandom, st: LineState): string {
  st.clock += r.int(1, 900);
  st.row += 1;
  switch (kind) {
    case 'log':
      return `${isoTime(st.clock)} ${r.pick(levels).padEnd(5)} [${r.pick(services)}] ${r.pick(methods)} ${r.pick(routes)}/${r.int(1, 99999)} ${r.pick(statuses)} ${r.int(1, 2500)}ms from=${ip(r)} req=${hex12(r)} ${sentence(r, r.int(2, 9))}\n`;
    case 'jsonl':
      return `{"ts":"${isoTime(st.clock)}","level":"${r.pick(levels).toLowerCase()}","service":"${r.pick(services)}","user_id":${r.int(1, 50000)},"event":"${r.pick(words)}_${r.pick(words)}","duration_ms":${r.int(0, 5000)},"ok":${r.float() < 0.9},"msg":"${sentence(r, r.int(3, 10))}"}\n`;
    case 'sql':
      return `INSERT INTO orders (id, customer, city, product, quantity, price, created_at) VALUES (${st.row}, '${r.pick(names)} ${r.pick(names)}son', '${r.pick(cities)}', '${r.pick(words)}-${r.pick(words)}', ${r.int(1, 20)}, ${cents(r.int(1, 99999))}, '${isoTime(st.clock)}');\n`;
    case 'csv':
      return `${st.row},${isoTime(st.clock)},${r.pick(names)},${r.pick(cities)},${r.pick(words)},${cents(r.int(0, 1000000))},${r.pick(['EUR', 'USD', 'GBP'])},${r.float() < 0.95 ? 'paid' : 'open'}\n`;
    case 'code':
      return r.pick(codeLines) + '\n';
  }
}

const headers: Partial<Record<TextKind, string>> = {
  sql: '-- dump of database "shop"\nSET client_encoding = \'UTF8\';\nCREATE TABLE orders (id bigint PRIMARY KEY, customer text, city text, product text, quantity int, price numeric, created_at timestamptz);\n',
  csv: 'id,created_at,name,city,item,amount,currency,status\n',
};

/**
 * Calls `write` with text of `kind` until `size` bytes were produced (the last piece is cut to fit).
 * `startMs` is the clock of the first line, so appended logs continue where a file ended.
 */
export function generateText(kind: TextKind, r: SeededRandom, size: number, write: (b: Buffer) => void, opts: { startMs?: number; header?: boolean } = {}): void {
  const st: LineState = { clock: opts.startMs ?? Date.UTC(2025, 0, 1) + r.int(0, 1e10), row: r.int(0, 1000) * 1000 };
  let left = size;
  let first = opts.header === false ? '' : (headers[kind] ?? '');
  const flushAt = 1 << 20;
  while (left > 0) {
    const lines: string[] = [first];
    let n = first.length;
    first = '';
    while (n < flushAt && n < left) {
      const l = line(kind, r, st);
      lines.push(l);
      n += l.length;
    }
    const buf = Buffer.from(lines.join(''), 'latin1');
    const out = buf.length > left ? buf.subarray(0, left) : buf;
    write(out);
    left -= out.length;
  }
}

/** Text of `kind` and `size` bytes as one buffer (for small files). */
export function textBuffer(kind: TextKind, r: SeededRandom, size: number): Buffer {
  const parts: Buffer[] = [];
  generateText(kind, r, size, (b) => parts.push(b));
  return Buffer.concat(parts);
}
