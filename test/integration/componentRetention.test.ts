import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LocalBackend } from '../../src/backend/local.js';
import { Repository } from '../../src/repo/repository.js';
import { formatPolynomial, randomPolynomial } from '../../src/chunker/polynomial.js';
import { parseConfig } from '../../src/orchestrator/loadConfig.js';
import { backupComponents } from '../../src/orchestrator/componentJobs.js';
import { backupComponent } from '../../src/orchestrator/backupComponent.js';
import { listComponentSnapshots } from '../../src/orchestrator/componentSnapshots.js';
import type { OrchestratorContext } from '../../src/orchestrator/context.js';

test('manual and automatic snapshots of a component are pruned separately, keeping N of each', async () => {
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'cairn-retention-'));
  try {
    const data = path.join(tmp, 'data');
    await fs.mkdir(data);
    await fs.writeFile(path.join(data, 'a.txt'), 'a');
    const loaded = parseConfig(
      `repositories: { default: { url: ${path.join(tmp, 'repo')} } }
retention: { keep_manual: 2, keep_automatic: 1, keep_daily: 0, keep_weekly: 0, keep_monthly: 0 }
components:
  app:
    sources: [ { type: files, name: files, paths: [${data}] } ]
`,
      { file: path.join(tmp, 'cairn.yaml') },
    );
    const repo = await Repository.init(new LocalBackend(path.join(tmp, 'repo')), 'pw', { newPolynomial: () => formatPolynomial(randomPolynomial()), kdf: { N: 1024, r: 8, p: 1 } });
    const ctx: OrchestratorContext = { loaded, repo, log: () => {} };
    for (let i = 0; i < 3; i++) await backupComponent(ctx, 'app', { reason: 'before-restore', kind: 'automatic', time: new Date(Date.now() - (10 - i) * 60_000) });
    for (let i = 0; i < 4; i++) {
      await fs.writeFile(path.join(data, 'a.txt'), `version ${i}`);
      const [o] = await backupComponents(ctx, ['app']);
      assert.equal(o!.status, 'ok', o!.message);
    }
    const left = await listComponentSnapshots(repo, 'app');
    assert.equal(left.filter((i) => i.kind === 'manual').length, 2, 'the two newest manual snapshots are kept');
    assert.equal(left.filter((i) => i.kind === 'automatic').length, 1, 'one automatic snapshot is kept');
    const newestAuto = left.find((i) => i.kind === 'automatic')!;
    assert.ok(Date.parse(newestAuto.snapshot.time) > Date.now() - 8.5 * 60_000, 'the newest automatic one survives');
    await repo.close();
  } finally {
    await fs.rm(tmp, { recursive: true, force: true });
  }
});
