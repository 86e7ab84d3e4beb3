// `cairn stats` end to end on a copy of the shared restic fixture: the JSON
// carries restic's field names and restic's numbers; filters select snapshots
// as restic's do.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runCairn, runRestic } from '../helpers/cli.js';
import { expected, fixturePassword } from '../helpers/fixture.js';
import { copyFixtureRepo } from '../helpers/scratchRepo.js';

let tmp = '';
let repo = '';
const env = { CAIRN_PASSWORD: fixturePassword };

before(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'cairn-stats-e2e-'));
  repo = await copyFixtureRepo(path.join(tmp, 'repo'));
});
after(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

for (const [mode, recorded] of Object.entries(expected.restic_stats_json as Record<string, Record<string, number>>)) {
  test(`stats --json --mode ${mode} prints restic's fields with the numbers restic recorded`, async () => {
    const r = await runCairn(['stats', '-r', repo, '--json', '--mode', mode], { env });
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as Record<string, unknown>;
    for (const [k, v] of Object.entries(recorded)) assert.equal(out[k], v, `${mode} ${k}`);
    assert.equal(typeof (out.storage as Record<string, number>).dedup_ratio, 'number');
  });
}

test('stats --tag selects snapshots as restic does and counts only those', async () => {
  const r = await runCairn(['stats', '-r', repo, '--json', '--mode', 'files-by-contents', '--tag', 'second'], { env });
  assert.equal(r.code, 0, r.stderr);
  const restic = await runRestic(['-r', repo, '--no-cache', '--no-lock', 'stats', '--json', '--mode', 'files-by-contents', '--tag', 'second'], { RESTIC_PASSWORD: fixturePassword });
  assert.equal(restic.code, 0, restic.stderr);
  const mine = JSON.parse(r.stdout) as Record<string, number>;
  const theirs = JSON.parse(restic.stdout) as Record<string, number>;
  assert.equal(mine.snapshots_count, 1);
  for (const [k, v] of Object.entries(theirs)) assert.equal(mine[k], v, k);
});

test('the text output shows the mode\'s figures and the storage view with dedup and compression ratios', async () => {
  const r = await runCairn(['stats', '-r', repo, '--mode', 'raw-data', 'latest'], { env });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^Stats in raw-data mode:$/m);
  assert.match(r.stdout, /^ +Snapshots processed: +1$/m);
  assert.match(r.stdout, /^ +Compression Ratio: +\d+\.\d\dx$/m);
  assert.match(r.stdout, /^ +Dedup ratio: +\d+\.\d\dx$/m);
  assert.match(r.stdout, /^ +Packs: +\d+ used of 4 in the repository/m);
});

test('an unknown counting mode is refused with the list of modes', async () => {
  const r = await runCairn(['stats', '-r', repo, '--mode', 'bogus'], { env });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /unknown counting mode: bogus/);
  assert.match(r.stderr, /restore-size, raw-data, files-by-contents, blobs-per-file/);
});
