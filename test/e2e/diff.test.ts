// `cairn diff` end to end on a copy of the shared restic fixture, with the
// real restic's `diff` as the oracle for both the text and the JSON output.
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
const [a, b] = (expected.snapshots as { short_id: string }[]).map((s) => s.short_id) as [string, string];

before(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'cairn-diff-e2e-'));
  repo = await copyFixtureRepo(path.join(tmp, 'repo'));
});
after(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

const restic = (args: string[]) => runRestic(['-r', repo, '--no-cache', '--no-lock', 'diff', ...args], { RESTIC_PASSWORD: fixturePassword });

test('diff --json --metadata prints the same change lines and statistics as restic', async () => {
  const mine = await runCairn(['diff', '-r', repo, '--json', '--metadata', a, b], { env });
  assert.equal(mine.code, 0, mine.stderr);
  const theirs = await restic(['--json', '--metadata', a, b]);
  assert.equal(theirs.code, 0, theirs.stderr);
  const lines = (s: string) => s.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  const m = lines(mine.stdout);
  const t = lines(theirs.stdout);
  assert.deepEqual(m.filter((l) => l.message_type === 'change'), t.filter((l) => l.message_type === 'change'));
  const stats = m.find((l) => l.message_type === 'statistics')!;
  for (const [k, v] of Object.entries(t.find((l) => l.message_type === 'statistics')!)) assert.deepEqual(stats[k], v, k);
  const total = (m: { type: string; size?: number }[]) => m.filter((e) => e.type === 'file').reduce((s, e) => s + (e.size ?? 0), 0);
  assert.equal((stats.logical_added as number) - (stats.logical_removed as number), total(expected.manifest['source-2.tar']) - total(expected.manifest['source.tar']), 'the file size change');
});

test('the text output is restic\'s, line for line, plus the change in file size', async () => {
  const mine = await runCairn(['diff', '-r', repo, a, b], { env });
  assert.equal(mine.code, 0, mine.stderr);
  const theirs = await restic([a, b]);
  const body = (s: string) => s.split('\n').filter((l) => l !== '' && !l.startsWith('File size:'));
  assert.deepEqual(body(mine.stdout), body(theirs.stdout));
  assert.match(mine.stdout, /^File size: .* in, .* out \(\+[\d.]+ KiB\)$/m);
});

test('diff of one folder in each snapshot lists paths inside that folder', async () => {
  const r = await runCairn(['diff', '-r', repo, `${a}:/notes`, `${b}:/notes`], { env });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(r.stdout.split('\n').filter((l) => /^[-+MUT?]+ /.test(l)), ['+    /added.txt', '-    /todo.md']);
  const bad = await runCairn(['diff', '-r', repo, `${a}:/README.txt`, b], { env });
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /\/README.txt is not a folder in snapshot/);
});
