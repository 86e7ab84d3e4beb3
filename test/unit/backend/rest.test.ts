// The REST backend against a real restic REST server, `rclone serve restic` (test/helpers/rcloneRest.ts):
// the shared conformance suite, credentials, TLS with a private CA, and an unreachable server.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { RestBackend } from '../../../src/backend/rest.js';
import { CairnError } from '../../../src/errors.js';
import { runBackendConformance } from '../../helpers/backendConformance.js';
import { type RcloneRest, startRcloneRest } from '../../helpers/rcloneRest.js';

const server: RcloneRest = await startRcloneRest();
after(() => server.stop());

runBackendConformance(
  'rest',
  async () => {
    const name = `r-${randomBytes(6).toString('hex')}`;
    return { backend: new RestBackend({ url: `${server.url}${name}/` }), cleanup: () => rm(path.join(server.dir, name), { recursive: true, force: true }) };
  },
  { knownFailures: { 'invisible-while-writing': 'rclone 1.60 writes uploads in place under the final name (it removes them if the upload fails)' } },
);
