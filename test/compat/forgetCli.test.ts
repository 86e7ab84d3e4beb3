// `cairn forget` on the command line against `restic forget` (0.14) on the
// same repository: the same --json for every kind of policy, filter and
// grouping; a real run removes exactly what restic would have; --dry-run
// tells which rule keeps each snapshot; forget by id; errors users can hit.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runCairn, runRestic } from '../helpers/cli.js';

const password = 'forget-cli';
const tz = 'Europe/Berlin';
const env = { CAIRN_PASSWORD: password, RESTIC_PASSWORD: password, TZ: tz };
let tmp = '';
let template = '';
let dirA = '';
let dirB = '';

/** Backups at fixed times (Berlin wall clock), hosts, path sets and tags. */
const history: { time: string; host: string; dir: 'A' | 'B'; tags: string[] }[] = [
  { time: '2024-03-01 08:00:00', host: 'nas', dir: 'A', tags: ['auto'] },
  { time: '2024-03-01 20:00:00', host: 'nas', dir: 'A', tags: ['auto'] },
  { time: '2024-03-02 08:00:00', host: 'nas', dir: 'A', tags: ['important'] },
  { time: '2024-03-09 08:00:00', host: 'nas', dir: 'A', tags: ['auto'] },
  { time: '2024-03-20 08:00:00', host: 'nas', dir: 'A', tags: [] },
  { time: '2024-03-31 03:30:00', host: 'nas', dir: 'A', tags: ['auto'] },
  { time: '2024-04-01 08:00:00', host: 'nas', dir: 'A', tags: ['auto'] },
  { time: '2024-03-05 12:00:00', host: 'nas', dir: 'B', tags: ['auto'] },
  { time: '2024-04-02 12:00:00', host: 'nas', dir: 'B', tags: ['auto', 'important'] },
  { time: '2024-03-03 09:00:00', host: 'web', dir: 'A', tags: ['auto'] },
  { time: '2024-03-28 09:00:00', host: 'web', dir: 'A', tags: ['manual'] },
];

before(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'cairn-forget-cli-'));
  template = path.join(tmp, 'template');
  dirA = path.join(tmp, 'data', 'A');
  dirB = path.join(tmp, 'data', 'B');
  await fs.mkdir(dirA, { recursive: true });
  await fs.mkdir(dirB, { recursive: true });
  await fs.writeFile(path.join(dirA, 'a.txt'), 'a\n');
  await fs.writeFile(path.join(dirB, 'b.txt'), 'b\n');
  assert.equal((await runRestic(['-r', template, 'init'], env)).code, 0);
  for (const h of history) {
    const args = ['-r', template, '--no-cache', 'backup', '--time', h.time, '--host', h.host, ...h.tags.flatMap((t) => ['--tag', t]), h.dir === 'A' ? dirA : dirB];
    const r = await runRestic(args, env);
    assert.equal(r.code, 0, r.stderr);
  }
});

after(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

let copies = 0;
async function copyOfTemplate(): Promise<string> {
  const dir = path.join(tmp, `repo-${++copies}`);
  await fs.cp(template, dir, { recursive: true });
  return dir;
}

const policies: string[][] = [
  ['--keep-last', '3'],
  ['--keep-daily', '2', '--keep-weekly', '2'],
  ['--keep-monthly', '1', '--keep-yearly', '1'],
  ['--keep-hourly', '5'],
  ['--keep-within', '10d'],
  ['--keep-within-daily', '9d', '--keep-within-weekly', '1m'],
  ['--keep-tag', 'important', '--keep-last', '1'],
  ['--keep-tag', 'auto,important'],
  ['--group-by', 'tags', '--keep-last', '1'],
  ['--group-by', 'host', '--keep-last', '2'],
  ['--group-by', '', '--keep-last', '2'],
  ['--host', 'web', '--keep-last', '1'],
  ['--tag', 'auto', '--keep-daily', '1'],
  ['--path', 'DIR_B', '--keep-last', '1'],
];

interface Group {
  host: string;
  paths: string[] | null;
  tags: string[] | null;
}

/** restic prints groups in random order (Go map iteration): compare them sorted by key. */
function byGroup(groups: Group[]): Group[] {
  const key = (g: Group) => JSON.stringify([g.host, g.paths, g.tags]);
  return [...groups].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}

describe('cairn forget --dry-run --json prints what restic forget --dry-run --json prints', () => {
  for (const policy of policies) {
    const label = policy.join(' ');
    test(label, async () => {
      // DIR_B stands for the second backed-up folder, known only once the repository is made
      const args = policy.map((a) => (a === 'DIR_B' ? dirB : a));
      const repo = template;
      const cairn = await runCairn(['forget', '-r', repo, '--dry-run', '--json', ...args], { env });
      assert.equal(cairn.code, 0, cairn.stderr);
      const restic = await runRestic(['-r', repo, '--no-cache', '--no-lock', 'forget', '--dry-run', '--json', ...args], env);
      assert.equal(restic.code, 0, restic.stderr);
      assert.deepEqual(byGroup(JSON.parse(cairn.stdout) as Group[]), byGroup(JSON.parse(restic.stdout) as Group[]));
    });
  }
});

describe('forgetting for real', () => {
  test('removes exactly the snapshots restic would remove, and nothing else', async () => {
    const policy = ['--keep-daily', '2', '--keep-tag', 'important'];
    const repo = await copyOfTemplate();
    const plan = await runRestic(['-r', repo, '--no-cache', 'forget', '--dry-run', '--json', ...policy], env);
    const groups = JSON.parse(plan.stdout) as { keep: { id: string }[] | null; remove: { id: string }[] | null }[];
    const keep = groups.flatMap((g) => (g.keep ?? []).map((s) => s.id)).sort();
    const removeCount = groups.flatMap((g) => g.remove ?? []).length;
    assert.ok(removeCount > 0);
    const run = await runCairn(['forget', '-r', repo, ...policy], { env });
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, new RegExp(`removed ${removeCount} snapshots`));
    const left = JSON.parse((await runRestic(['-r', repo, '--no-cache', 'snapshots', '--json'], env)).stdout) as { id: string }[];
    assert.deepEqual(left.map((s) => s.id).sort(), keep);
    const check = await runRestic(['-r', repo, '--no-cache', 'check'], env);
    assert.equal(check.code, 0, check.stdout + check.stderr);
  });

  test('--dry-run says which rule keeps each snapshot and what would go, and changes nothing', async () => {
    const repo = await copyOfTemplate();
    const before = await fs.readdir(path.join(repo, 'snapshots'));
    const r = await runCairn(['forget', '-r', repo, '--dry-run', '--keep-last', '1', '--keep-tag', 'important', '--host', 'nas'], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Applying Policy: keep 1 latest snapshots and all snapshots with tags \[\[important\]\]/);
    assert.match(r.stdout, new RegExp(`snapshots for \\(host \\[nas\\], paths \\[${dirA.replace(/[/\\]/g, '\\$&')}\\]\\):`));
    assert.match(r.stdout, /Reasons/);
    assert.match(r.stdout, /last snapshot/);
    assert.match(r.stdout, /has tags \[important\]/);
    assert.match(r.stdout, /would have removed \d+ snapshots/);
    assert.deepEqual(await fs.readdir(path.join(repo, 'snapshots')), before);
  });

  test('forget ID removes exactly that snapshot', async () => {
    const repo = await copyOfTemplate();
    const ids = (await fs.readdir(path.join(repo, 'snapshots'))).sort();
    const r = await runCairn(['forget', '-r', repo, ids[0]!.slice(0, 10)], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual((await fs.readdir(path.join(repo, 'snapshots'))).sort(), ids.slice(1));
  });

  test('without a policy nothing is removed, and it says so', async () => {
    const repo = await copyOfTemplate();
    const r = await runCairn(['forget', '-r', repo], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /no policy was specified, no snapshots will be removed/);
    assert.equal((await fs.readdir(path.join(repo, 'snapshots'))).length, history.length);
  });

  test('a negative count or a malformed duration is refused with a remedy, before anything is touched', async () => {
    const repo = await copyOfTemplate();
    for (const bad of [['--keep-last', '-1'], ['--keep-within', '7w'], ['--keep-daily', 'many'], ['--group-by', 'hostname', '--keep-last', '1']]) {
      const r = await runCairn(['forget', '-r', repo, ...bad], { env });
      assert.equal(r.code, 1, `${bad.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /remedy:/);
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    }
    assert.equal((await fs.readdir(path.join(repo, 'snapshots'))).length, history.length);
  });
});
