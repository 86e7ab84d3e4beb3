// cairn's forget decisions against the real restic (0.14.0, Debian) as the
// oracle: one restic repository with a generated two-year history (several
// hosts, tags and path sets, irregular gaps, several backups a day, ISO-week
// and year boundaries, DST changes in Europe/Berlin), then for each policy
// `restic forget --dry-run --json` and planForget on the snapshots restic
// lists must print the same JSON: same groups, same kept and removed
// snapshots in the same order, same reasons and counters.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, mkdirSync, readdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createKeyFile, openKeyFile } from '../../src/crypto/keyFile.js';
import { parseDuration } from '../../src/engine/duration.js';
import type { ForgetPolicy } from '../../src/engine/forgetPolicy.js';
import { forgetPlanJson, planForget, type ForgetGroupJson } from '../../src/engine/forgetPlan.js';
import { parseTagList, type SnapshotFilter } from '../../src/engine/snapshotFilter.js';
import { defaultGroupBy, parseGroupBy, type GroupBy } from '../../src/engine/snapshotGroup.js';
import type { Snapshot } from '../../src/repo/snapshot.js';

const password = 'forget-oracle';
const berlin = 'Europe/Berlin';
let work = '';
let repo = '';
let dirA = '';
let dirB = '';
let snapshots: Snapshot[] = [];

/** Runs restic on the test repository in time zone `tz`; resolves with stdout. */
function restic(args: string[], tz = berlin): Promise<string> {
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: work, TZ: tz, RESTIC_PASSWORD: password, RESTIC_REPOSITORY: repo };
  return new Promise((resolve, reject) => {
    execFile('restic', ['--no-cache', ...args], { env, maxBuffer: 256 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`restic ${args.join(' ')} failed: ${stderr || err.message}`));
      else resolve(stdout);
    });
  });
}

/** A small deterministic random source (mulberry32), so every run builds the same history. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface PlannedBackup {
  /** Berlin wall clock, as restic's --time takes it. */
  time: string;
  host: string;
  paths: 'A' | 'B';
  tags: string[];
}

const pad = (n: number): string => String(n).padStart(2, '0');

/** The history: random days over 2023–2024 plus hand-placed snapshots at the edges that matter. */
function plannedHistory(): PlannedBackup[] {
  const rnd = random(20240331);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)];
  const streams: readonly { host: string; paths: 'A' | 'B'; tags: readonly string[][] }[] = [
    { host: 'nas', paths: 'A', tags: [['auto'], ['auto'], ['auto', 'daily'], ['manual']] },
    { host: 'nas', paths: 'B', tags: [['zeta', 'alpha'], [], []] },
    { host: 'web', paths: 'A', tags: [['auto'], [], ['manual', 'pre-upgrade']] },
    { host: 'db', paths: 'B', tags: [['auto', 'daily'], ['manual'], ['auto', 'daily']] },
  ];
  const out: PlannedBackup[] = [];
  const day = new Date(Date.UTC(2023, 0, 1));
  const end = Date.UTC(2024, 11, 30);
  for (; day.getTime() <= end; day.setUTCDate(day.getUTCDate() + 1)) {
    const ymd = `${day.getUTCFullYear()}-${pad(day.getUTCMonth() + 1)}-${pad(day.getUTCDate())}`;
    // Holidays: no backups at all for weeks.
    if ((ymd >= '2023-07-10' && ymd <= '2023-08-20') || (ymd >= '2024-02-01' && ymd <= '2024-02-20')) continue;
    const r = rnd();
    const n = r < 0.65 ? 0 : r < 0.88 ? 1 : r < 0.97 ? 2 : 3;
    for (let i = 0; i < n; i++) {
      const s = pick(streams);
      out.push({ time: `${ymd} ${pad(Math.floor(rnd() * 24))}:${pad(Math.floor(rnd() * 60))}:${pad(Math.floor(rnd() * 60))}`, host: s.host, paths: s.paths, tags: [...pick(s.tags)] });
    }
  }
  const nasA = (time: string): PlannedBackup => ({ time, host: 'nas', paths: 'A', tags: ['auto'] });
  const webA = (time: string): PlannedBackup => ({ time, host: 'web', paths: 'A', tags: ['auto'] });
  out.push(
    // The newest snapshot that is not in the future, and one in the future
    // (restic measures --keep-within* from the newest one before now).
    nasA('2024-12-31 20:00:00'),
    nasA('2099-06-01 12:00:00'),
    // 5 months before the newest is 2024-07-31 20:00 in summer time: 20:30
    // is within 5m when restic computes in Europe/Berlin, not when in UTC.
    nasA('2024-07-31 20:30:00'),
    // 1 month before 2024-12-31 is "2024-11-31", which Go carries to 12-01.
    nasA('2024-12-01 19:00:00'),
    nasA('2024-12-01 21:00:00'),
    // DST: 02:30 does not exist on 2024-03-31 and exists twice on 2024-10-27.
    nasA('2024-03-31 02:30:00'),
    nasA('2024-10-27 01:50:00'),
    nasA('2024-10-27 02:30:00'),
    // ISO weeks: 2023-01-01 is in 2022-W52, 2024-12-30 in 2025-W01.
    webA('2023-01-01 23:00:00'),
    webA('2023-01-02 00:30:00'),
    webA('2023-12-31 23:30:00'),
    webA('2024-01-01 00:15:00'),
    webA('2024-12-29 23:59:00'),
    webA('2024-12-30 00:01:00'),
  );
  return out;
}

/** Runs `fn` over `items` with at most `limit` at a time. */
async function pool<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await fn(items[next++]);
  };
  await Promise.all(Array.from({ length: limit }, worker));
}

/** Rewraps the repository's key with cheap scrypt parameters (restic accepts any), so the hundreds of restic runs below are not each spending ~0.4 s of CPU on key derivation. */
async function cheapenKey(): Promise<void> {
  const dir = path.join(repo, 'keys');
  const [name] = readdirSync(dir);
  const master = await openKeyFile(JSON.parse(readFileSync(path.join(dir, name), 'utf8')), password);
  assert.ok(master, 'the password opens the key restic wrote');
  const key = await createKeyFile(master, password, { N: 1024, r: 8, p: 1 });
  writeFileSync(path.join(dir, key.id), key.bytes);
  unlinkSync(path.join(dir, name));
}

/** Snapshots as restic lists them, turned into cairn's Snapshot objects. */
async function listSnapshots(): Promise<Snapshot[]> {
  const raw = JSON.parse(await restic(['snapshots', '--json'])) as (Snapshot & { short_id?: string })[];
  return raw.map(({ short_id: _short, ...sn }) => sn);
}

/** Turns restic forget options into cairn's policy, grouping and filter. */
function fromArgs(args: readonly string[]): { policy: ForgetPolicy; groupBy: GroupBy; filter: SnapshotFilter } {
  const policy: ForgetPolicy = {};
  let groupBy: GroupBy = { ...defaultGroupBy };
  const filter: { hosts: string[]; tags: string[][]; paths: string[] } = { hosts: [], tags: [], paths: [] };
  const counts = { '--keep-last': 'last', '--keep-hourly': 'hourly', '--keep-daily': 'daily', '--keep-weekly': 'weekly', '--keep-monthly': 'monthly', '--keep-yearly': 'yearly' } as const;
  const withins = { '--keep-within': 'within', '--keep-within-hourly': 'withinHourly', '--keep-within-daily': 'withinDaily', '--keep-within-weekly': 'withinWeekly', '--keep-within-monthly': 'withinMonthly', '--keep-within-yearly': 'withinYearly' } as const;
  for (let i = 0; i < args.length; i += 2) {
    const [flag, value] = [args[i], args[i + 1]];
    if (flag in counts) policy[counts[flag as keyof typeof counts]] = Number(value);
    else if (flag in withins) policy[withins[flag as keyof typeof withins]] = parseDuration(value);
    else if (flag === '--keep-tag') policy.tags = [...(policy.tags ?? []), parseTagList(value)];
    else if (flag === '--group-by') groupBy = parseGroupBy(value);
    else if (flag === '--host') filter.hosts.push(value);
    else if (flag === '--tag') filter.tags.push(parseTagList(value));
    else if (flag === '--path') filter.paths.push(value);
    else throw new Error(`test does not know ${flag}`);
  }
  return { policy, groupBy, filter };
}

const groupOrder = (g: ForgetGroupJson): string => JSON.stringify([g.host, g.paths, g.tags]);

/** Asserts cairn's plan equals restic's `forget --dry-run --json` output for the same options; returns restic's groups. */
async function assertSameAsRestic(args: string[], tz = berlin): Promise<ForgetGroupJson[]> {
  const out = await restic(['forget', '--no-lock', '--dry-run', '--json', ...args], tz);
  const theirs = (out.trim() === '' ? [] : (JSON.parse(out) as ForgetGroupJson[])).sort((a, b) => (groupOrder(a) < groupOrder(b) ? -1 : 1));
  const { policy, groupBy, filter } = fromArgs(args);
  const ours = forgetPlanJson(planForget(snapshots, policy, groupBy, filter, { timeZone: tz })).sort((a, b) => (groupOrder(a) < groupOrder(b) ? -1 : 1));
  // Messages are given explicitly: node's own diff of outputs this large takes minutes.
  assert.equal(ours.map(groupOrder).join('\n'), theirs.map(groupOrder).join('\n'), `same groups: cairn ${ours.map(groupOrder)} restic ${theirs.map(groupOrder)}`);
  ours.forEach((o, i) => {
    const t = theirs[i];
    const group = groupOrder(o);
    for (const side of ['keep', 'remove'] as const) {
      const a = (o[side] ?? []).map((sn) => `${sn.short_id} ${sn.time}`);
      const b = (t[side] ?? []).map((sn) => `${sn.short_id} ${sn.time}`);
      const only = (x: string[], y: string[]) => x.filter((e) => !y.includes(e)).join(', ');
      assert.equal(a.join(','), b.join(','), `${side} in ${group}: only cairn [${only(a, b)}], only restic [${only(b, a)}]`);
    }
    (t.reasons ?? []).forEach((r, j) => {
      const mine = JSON.stringify(o.reasons?.[j]);
      assert.equal(mine, JSON.stringify(r), `reason ${j} in ${group}: cairn ${mine} restic ${JSON.stringify(r)}`);
    });
    // Everything else, byte for byte (key order, nulls, omitted fields).
    assert.equal(JSON.stringify(o), JSON.stringify(t), `JSON of group ${group} differs from restic's`);
  });
  return theirs;
}

const removedCount = (gs: ForgetGroupJson[]): number => gs.reduce((n, g) => n + (g.remove?.length ?? 0), 0);
const keptCount = (gs: ForgetGroupJson[]): number => gs.reduce((n, g) => n + (g.keep?.length ?? 0), 0);

/** Policies whose decisions must equal restic's; each must keep some snapshots and remove others. */
const cases: readonly string[][] = [
  ['--keep-last', '5'],
  ['--keep-hourly', '10'],
  ['--keep-daily', '7'],
  ['--keep-weekly', '6'],
  ['--keep-monthly', '12'],
  ['--keep-yearly', '3'],
  ['--keep-daily', '400'],
  ['--keep-last', '3', '--keep-daily', '7', '--keep-weekly', '4', '--keep-monthly', '6', '--keep-yearly', '2'],
  ['--keep-hourly', '48', '--keep-daily', '30', '--keep-weekly', '13'],
  ['--keep-within', '1m'],
  ['--keep-within', '1y2m3d4h'],
  ['--keep-within', '10d12h'],
  ['--keep-within-hourly', '10d'],
  ['--keep-within-daily', '2m'],
  ['--keep-within-weekly', '6m'],
  ['--keep-within-monthly', '1y'],
  ['--keep-within-yearly', '1y6m'],
  ['--keep-within-daily', '7d', '--keep-within-weekly', '1m', '--keep-within-monthly', '1y', '--keep-within-yearly', '75y'],
  ['--keep-tag', 'manual'],
  ['--keep-tag', 'manual,pre-upgrade', '--keep-tag', '', '--keep-last', '2'],
  ['--keep-tag', 'alpha, zeta', '--keep-weekly', '2'],
  ['--group-by', '', '--keep-daily', '10'],
  ['--group-by', '', '--keep-within', '3m'],
  ['--group-by', 'tags', '--keep-last', '2', '--keep-monthly', '3'],
  ['--group-by', 'host', '--keep-weekly', '3'],
  ['--group-by', 'paths', '--keep-monthly', '4'],
  ['--group-by', 'host,paths,tags', '--keep-daily', '5', '--keep-within', '2m'],
  ['--host', 'web', '--keep-last', '3'],
  ['--host', 'web', '--host', 'db', '--keep-daily', '4', '--group-by', ''],
  ['--tag', 'auto', '--keep-weekly', '2'],
  ['--tag', 'manual', '--tag', 'auto,daily', '--keep-monthly', '2', '--group-by', 'host'],
  ['--tag', '', '--keep-last', '1'],
  ['--path', '/DIR_A', '--keep-yearly', '1'],
  ['--keep-last', '2', '--keep-hourly', '5', '--keep-daily', '5', '--keep-weekly', '5', '--keep-monthly', '5', '--keep-yearly', '5', '--keep-within', '10d', '--keep-within-daily', '1m', '--keep-tag', 'manual', '--group-by', 'host,paths,tags'],
];

describe('forget decides like restic 0.14 forget --dry-run --json', { timeout: 600_000 }, () => {
  before(async () => {
    work = mkdtempSync(path.join(os.tmpdir(), 'cairn-forget-oracle-'));
    repo = path.join(work, 'repo');
    dirA = path.join(work, 'alpha');
    dirB = path.join(work, 'beta');
    mkdirSync(dirA);
    mkdirSync(dirB);
    writeFileSync(path.join(dirA, 'a.txt'), 'alpha\n');
    writeFileSync(path.join(dirB, 'b.txt'), 'beta\n');
    await restic(['init']);
    await cheapenKey();
    const plan = plannedHistory();
    const backup = (b: PlannedBackup): Promise<string> =>
      restic(['backup', '-q', '--time', b.time, '--host', b.host, ...(b.tags.length > 0 ? ['--tag', b.tags.join(',')] : []), ...(b.paths === 'A' ? [dirA] : [dirB, dirA])]);
    // The first backup stores the data alone; the rest only add snapshots,
    // and restic's non-exclusive locks let them run side by side.
    await backup(plan[0]);
    await pool(plan.slice(1), 6, backup);
    snapshots = await listSnapshots();
    assert.equal(snapshots.length, plan.length);
    // restic orders equal times by load order, which varies: the history has none.
    const instants = new Set(snapshots.map((sn) => Date.parse(sn.time)));
    assert.equal(instants.size, snapshots.length, 'every snapshot has its own instant');
  });

  after(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  test('the generated history is what the cases need', () => {
    assert.ok(snapshots.length >= 250, `hundreds of snapshots (${snapshots.length})`);
    assert.deepEqual([...new Set(snapshots.map((s) => s.hostname))].sort(), ['db', 'nas', 'web']);
    const offsets = new Set(snapshots.map((s) => s.time.slice(-6)));
    assert.deepEqual([...offsets].sort(), ['+01:00', '+02:00']);
    // restic resolves the non-existent 02:30 forwards and the doubled one to the later instant.
    assert.equal(snapshots.some((s) => s.time === '2024-03-31T03:30:00+02:00'), true, '02:30 on 2024-03-31 became 03:30+02:00');
    assert.equal(snapshots.some((s) => s.time === '2024-10-27T02:30:00+01:00'), true, '02:30 on 2024-10-27 became 02:30+01:00');
  });

  for (const c of cases) {
    test(`restic forget ${c.map((a) => (a === '' ? "''" : a)).join(' ')}`, async () => {
      const args = c.map((a) => (a === '/DIR_A' ? dirA : a));
      const groups = await assertSameAsRestic(args);
      assert.ok(keptCount(groups) > 0 && removedCount(groups) > 0, `the case keeps some snapshots and removes others (kept ${keptCount(groups)}, removed ${removedCount(groups)})`);
    });
  }

  test('keep-within follows the zone restic runs in across a DST change (Berlin vs UTC)', async () => {
    const args = ['--group-by', '', '--keep-within', '5m'];
    const inBerlin = await assertSameAsRestic(args, berlin);
    const inUtc = await assertSameAsRestic(args, 'UTC');
    const kept = (gs: ForgetGroupJson[]) => gs.flatMap((g) => (g.keep ?? []).map((s) => s.time));
    assert.equal(kept(inBerlin).includes('2024-07-31T20:30:00+02:00'), true, 'kept when restic runs in Europe/Berlin');
    assert.equal(kept(inUtc).includes('2024-07-31T20:30:00+02:00'), false, 'removed when restic runs in UTC');
  });

  test('keep-within counts months the way Go carries "November 31" to December 1', async () => {
    const groups = await assertSameAsRestic(['--keep-within', '1m', '--host', 'nas', '--tag', 'auto']);
    const kept = groups.flatMap((g) => (g.keep ?? []).map((s) => s.time));
    assert.equal(kept.includes('2024-12-01T21:00:00+01:00'), true, '21:00 on December 1 is within 1m of 2024-12-31 20:00');
    assert.equal(kept.includes('2024-12-01T19:00:00+01:00'), false, '19:00 on December 1 is not');
  });

  test('an empty policy removes nothing and prints no groups', async () => {
    const groups = await assertSameAsRestic(['--keep-last', '0']);
    assert.deepEqual(groups, []);
  });
});
