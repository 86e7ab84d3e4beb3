// `cairn cleanup --older-than DAYS --keep-min N`: the plain-language front
// for forget + prune. Snapshots of two hosts at ages from 1 to 90 days; the
// dry run names what goes and what it frees, the real run removes exactly
// that, keeps the newest of each host and path set, frees what it predicted,
// and leaves a repository cairn and restic check clean.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LocalBackend } from '../../src/backend/local.js';
import { backupPaths } from '../../src/engine/backup.js';
import { Repository } from '../../src/repo/repository.js';
import { runCairn, runRestic } from '../helpers/cli.js';

const password = 'cleanup-e2e';
const env = { CAIRN_PASSWORD: password, RESTIC_PASSWORD: password };
const day = 86_400_000;
let tmp = '';
let template = '';
/** Snapshot id by label (host and age in days). */
const ids: Record<string, string> = {};

before(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'cairn-cleanup-'));
  template = path.join(tmp, 'template');
  const init = await runCairn(['init', '-r', template], { env });
  assert.equal(init.code, 0, init.stderr);
  const repo = await Repository.open(new LocalBackend(template), password);
  const src = path.join(tmp, 'data', 'src');
  await fs.mkdir(src, { recursive: true });
  const now = Date.now();
  for (const [host, age] of [
    ['nas', 60],
    ['nas', 40],
    ['nas', 20],
    ['nas', 5],
    ['nas', 1],
    ['web', 90],
    ['web', 80],
  ] as const) {
    // each backup brings 400 KiB of its own, so every removed snapshot frees something
    await fs.writeFile(path.join(src, `${host}-${age}.bin`), randomBytes(400 * 1024));
    const r = await backupPaths(repo, [src], { host, time: new Date(now - age * day) });
    ids[`${host}-${age}`] = r.snapshot.id;
    await fs.rm(path.join(src, `${host}-${age}.bin`));
  }
  await repo.close();
});

after(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

async function copyOfTemplate(name: string): Promise<string> {
  const dir = path.join(tmp, name);
  await fs.cp(template, dir, { recursive: true });
  return dir;
}

async function repoBytes(dir: string): Promise<number> {
  let total = 0;
  for (const rel of await fs.readdir(dir, { recursive: true })) {
    if (rel.startsWith('locks')) continue;
    const st = await fs.stat(path.join(dir, rel));
    if (st.isFile()) total += st.size;
  }
  return total;
}

interface CleanupJson {
  message_type: string;
  dry_run: boolean;
  removed: string[];
  groups: { host: string; keep: { id: string }[] | null; remove: { id: string }[] | null; reasons: { matches: string[] }[] | null }[];
  prune: { expected: { bytes_freed: number } } | null;
}

describe('cairn cleanup', () => {
  test('the dry run says in plain words what goes and what it would free, and changes nothing', async () => {
    const dir = await copyOfTemplate('dry');
    const before = await repoBytes(dir);
    const text = await runCairn(['cleanup', '-r', dir, '--older-than', '30', '--keep-min', '1', '--dry-run'], { env });
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /older than 30 days\), keeping at least the newest 1 per host and paths/);
    assert.match(text.stdout, /newer than 30 days/);
    assert.match(text.stdout, /would remove 3 snapshots/);
    assert.match(text.stdout, /expected after prune: .* freed/);
    assert.match(text.stdout, /dry run: nothing was changed/);
    assert.equal(await repoBytes(dir), before);
  });

  test('removes what is older than the limit, always keeps the newest of each host, and frees what the dry run predicted', async (t) => {
    const dir = await copyOfTemplate('real');
    const dry = await runCairn(['cleanup', '-r', dir, '--older-than', '30', '--keep-min', '1', '--dry-run', '--json'], { env });
    assert.equal(dry.code, 0, dry.stderr);
    const plan = JSON.parse(dry.stdout) as CleanupJson;
    assert.deepEqual(plan.removed.sort(), [ids['nas-60'], ids['nas-40'], ids['web-90']].sort());
    const web = plan.groups.find((g) => g.host === 'web')!;
    assert.deepEqual(
      web.keep!.map((s) => s.id),
      [ids['web-80']],
      'the newest web snapshot stays although it is older than 30 days',
    );
    assert.deepEqual(web.reasons![0]!.matches, ['last snapshot']);
    const predicted = plan.prune!.expected.bytes_freed;

    const before = await repoBytes(dir);
    const run = await runCairn(['cleanup', '-r', dir, '--older-than', '30', '--keep-min', '1', '--json'], { env });
    assert.equal(run.code, 0, run.stderr);
    const done = JSON.parse(run.stdout) as CleanupJson;
    assert.equal(done.dry_run, false);
    assert.deepEqual(done.removed.sort(), plan.removed.sort());
    const shrink = before - (await repoBytes(dir));
    t.diagnostic(`predicted ${predicted} bytes freed, the repository shrank by ${shrink}`);
    assert.ok(predicted >= 3 * 400 * 1024, `predicted ${predicted}`);
    assert.ok(Math.abs(shrink - predicted) <= 0.01 * predicted, `shrank by ${shrink}, predicted ${predicted}`);

    const left = JSON.parse((await runCairn(['snapshots', '-r', dir, '--json'], { env })).stdout) as { id: string }[];
    assert.deepEqual(left.map((s) => s.id).sort(), [ids['nas-20'], ids['nas-5'], ids['nas-1'], ids['web-80']].sort());
    const check = await runCairn(['check', '-r', dir, '--read-data'], { env });
    assert.equal(check.code, 0, check.stdout + check.stderr);
    const rcheck = await runRestic(['-r', dir, '--no-cache', 'check', '--read-data'], env);
    assert.equal(rcheck.code, 0, rcheck.stdout + rcheck.stderr);
  });

  test('--keep-min 0 lets every old snapshot go; a larger --keep-min keeps more', async () => {
    const none = JSON.parse((await runCairn(['cleanup', '-r', template, '--older-than', '30', '--keep-min', '0', '--dry-run', '--json'], { env })).stdout) as CleanupJson;
    assert.deepEqual(none.removed.sort(), [ids['nas-60'], ids['nas-40'], ids['web-90'], ids['web-80']].sort());
    const four = JSON.parse((await runCairn(['cleanup', '-r', template, '--older-than', '30', '--keep-min', '4', '--dry-run', '--json'], { env })).stdout) as CleanupJson;
    assert.deepEqual(four.removed.sort(), [ids['nas-60']].sort());
  });

  test('without --older-than it says what to give, and touches nothing', async () => {
    const r = await runCairn(['cleanup', '-r', template, '--keep-min', '2'], { env });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /--older-than/);
    assert.match(r.stderr, /remedy:/);
  });
});
