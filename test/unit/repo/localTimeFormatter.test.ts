// LocalTimeFormatter must write exactly what formatLocalGoTime writes (the tree bytes depend
// on it), while looking the zone offset up once per hour of time.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatLocalGoTime, LocalTimeFormatter } from '../../../src/repo/timeFormat.js';
import { inZone } from '../../helpers/timeZone.js';


const S = 1_000_000_000n;

/** Instants around the interesting places: DST changes, odd historical offsets, the epoch, clamped years. */
function instants(): bigint[] {
  const out: bigint[] = [];
  const around = (sec: bigint) => {
    for (const d of [-3601n, -3600n, -1n, 0n, 1n, 1799n, 3599n, 3600n]) out.push((sec + d) * S, (sec + d) * S + 123_456_789n, (sec + d) * S - 1n);
  };
  for (const iso of ['2024-03-31T01:00:00Z', '2024-10-27T01:00:00Z', '2024-03-10T07:00:00Z', '2024-11-03T06:00:00Z', '1970-01-01T00:00:00Z', '1893-04-01T00:00:00Z', '1937-07-01T00:00:00Z', '2000-02-29T12:00:00Z']) {
    around(BigInt(Date.parse(iso) / 1000));
  }
  out.push(-62135596800n * S - 1n, 253402300800n * S, 2n ** 62n, -(2n ** 62n), 0n);
  let x = 0x2545f4914f6cdd1dn;
  for (let i = 0; i < 2000; i++) {
    x = (x * 6364136223846793005n + 1442695040888963407n) & 0xffffffffffffffffn;
    out.push((x % (4_000_000_000n * S)) - 500_000_000n * S); // ~1954 … ~2096
  }
  return out;
}

test('LocalTimeFormatter writes the same text as formatLocalGoTime in every zone, across DST changes and clamped years', () => {
  const all = instants();
  for (const tz of ['Europe/Berlin', 'America/New_York', 'Australia/Lord_Howe', 'Asia/Kolkata', 'Europe/Amsterdam', 'UTC', 'Pacific/Chatham']) {
    inZone(tz, () => {
      const f = new LocalTimeFormatter();
      for (const ns of all) assert.equal(f.format(ns), formatLocalGoTime(ns), `${tz} ${ns}`);
      // a second pass answers from the caches
      for (const ns of all) assert.equal(f.format(ns), formatLocalGoTime(ns), `${tz} ${ns} (cached)`);
    });
  }
});
