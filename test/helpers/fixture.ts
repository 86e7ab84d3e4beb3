import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The restic-written fixture repository (test/fixtures/restic-v2) and its recorded facts. */
export const fixtureDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/restic-v2');
export const fixtureRepo = path.join(fixtureDir, 'repo');
export const fixturePassword = readFileSync(path.join(fixtureDir, 'password.txt'), 'utf8');
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const expected: any = JSON.parse(readFileSync(path.join(fixtureDir, 'expected.json'), 'utf8'));
