import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runCairn, runRestic } from '../helpers/cli.js';

test('3-2-1: each component backup is copied to the copy-target repositories, which restic accepts', async () => {
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'cairn-copytargets-'));
  try {
    const data = path.join(tmp, 'data');
    await fs.mkdir(data);
    await fs.writeFile(path.join(data, 'photo.jpg'), Buffer.alloc(700_000, 3));
    const config = path.join(tmp, 'cairn.yaml');
    await fs.writeFile(
      config,
      `repositories:
  default: { url: ${path.join(tmp, 'main')}, password_env: CAIRN_PASSWORD }
  offsite: { url: ${path.join(tmp, 'offsite')}, password_env: OFFSITE_PASSWORD }
components:
  photos:
    sources: [ { type: files, name: pictures, paths: [${data}] } ]
`,
    );
    const env = { CAIRN_PASSWORD: 'main-pw', OFFSITE_PASSWORD: 'offsite-pw' };
    // the copy target must exist first, with its own password
    assert.equal((await runCairn(['init', '-r', path.join(tmp, 'offsite')], { env: { CAIRN_PASSWORD: 'offsite-pw' } })).code, 0);
    const b = await runCairn(['backup', '--config', config, '--json'], { env });
    assert.equal(b.code, 0, b.stdout + b.stderr);
    const out = JSON.parse(b.stdout.trim().split('\n').pop()!) as { components: { message?: string }[] };
    assert.match(out.components[0]!.message ?? '', /copied to offsite/);
    const snaps = JSON.parse((await runRestic(['-r', path.join(tmp, 'offsite'), 'snapshots', '--json'], { RESTIC_PASSWORD: 'offsite-pw' })).stdout) as { tags: string[] }[];
    assert.equal(snaps.length, 1);
    assert.ok(snaps[0]!.tags.includes('component=photos'));
    const check = await runRestic(['-r', path.join(tmp, 'offsite'), 'check', '--read-data'], { RESTIC_PASSWORD: 'offsite-pw' });
    assert.equal(check.code, 0, check.stdout + check.stderr);
    // a second run copies only the new snapshot
    const again = await runCairn(['backup', '--config', config], { env });
    assert.equal(again.code, 0, again.stderr);
    const after = JSON.parse((await runRestic(['-r', path.join(tmp, 'offsite'), 'snapshots', '--json'], { RESTIC_PASSWORD: 'offsite-pw' })).stdout) as unknown[];
    assert.equal(after.length, 2);
  } finally {
    await fs.rm(tmp, { recursive: true, force: true });
  }
});
