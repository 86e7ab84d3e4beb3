import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { cairnArgv, runCairn } from '../helpers/cli.js';
import { COMMAND_MODULES, buildProgram, modulesFor } from '../../src/cli/main.js';

// A command loads only what it uses: start-up time is part of every backup.
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
let tmp: string;
let repo: string;
let tracer: string;
const env = { CAIRN_PASSWORD: 'startup' };

// Libraries only some commands need: config parsing, containers, databases, remote storage, tables, bars.
const HEAVY = ['zod', 'yaml', 'dockerode', 'ssh2', '@aws-sdk/client-s3', 'undici', 'better-sqlite3', 'cli-table3', 'cli-progress'];

before(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'cairn-startup-'));
  repo = path.join(tmp, 'repo');
  await fs.mkdir(path.join(tmp, 'data'));
  await fs.writeFile(path.join(tmp, 'data', 'a.txt'), 'alpha');
  assert.equal((await runCairn(['init', '-r', repo], { env })).code, 0);
  // A module hook that appends every module the CLI loads (ESM and CommonJS) to $CAIRN_TRACE.
  await fs.writeFile(
    path.join(tmp, 'hooks.mjs'),
    `import { appendFileSync } from 'node:fs';\nexport async function load(url, context, next) { appendFileSync(process.env.CAIRN_TRACE, url + '\\n'); return next(url, context); }\n`,
  );
  tracer = path.join(tmp, 'trace.mjs');
  await fs.writeFile(
    tracer,
    `import { register, createRequire } from 'node:module';\nimport { appendFileSync } from 'node:fs';\nregister('./hooks.mjs', import.meta.url);\n` +
      `const Module = createRequire(import.meta.url)('module');\nconst load = Module._load;\n` +
      `Module._load = function (request, parent) { const r = load.apply(this, arguments); try { appendFileSync(process.env.CAIRN_TRACE, Module._resolveFilename(request, parent) + '\\n'); } catch {} return r; };\n`,
  );
});

after(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

/** Runs the CLI and returns the npm packages and cairn modules it loaded. */
async function loadedBy(args: string[]): Promise<{ code: number; stderr: string; packages: Set<string>; modules: string[] }> {
  const trace = path.join(tmp, `trace-${Math.random().toString(36).slice(2)}.txt`);
  await fs.writeFile(trace, '');
  const child = spawn(process.execPath, ['--import', tracer, ...cairnArgv(), ...args], {
    cwd: root, // like runCairn: `--import tsx` (CAIRN_TEST_CLI=tsx) resolves from here
    env: { ...process.env, ...env, CAIRN_TRACE: trace, CAIRN_CONFIG: undefined, CAIRN_REPOSITORY: undefined, RESTIC_REPOSITORY: undefined },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const code = await new Promise<number>((resolve) => child.on('close', (c) => resolve(c ?? -1)));
  const urls = (await fs.readFile(trace, 'utf8')).split('\n').filter(Boolean);
  const packages = new Set(urls.map((u) => /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(u)?.[1]).filter((p): p is string => !!p));
  const modules = urls.map((u) => /\/(?:src|dist)\/(.+)\.[jt]s$/.exec(u)?.[1]).filter((m): m is string => !!m);
  return { code, stderr, packages, modules };
}

test('every command module registers exactly the commands main.ts lists for it', async () => {
  for (const m of COMMAND_MODULES) {
    const program = new Command();
    (await m.load())(program);
    assert.deepEqual(program.commands.map((c) => c.name()), [...m.names]);
  }
  const all = (await buildProgram()).commands.map((c) => c.name());
  assert.deepEqual(all, COMMAND_MODULES.flatMap((m) => m.names));
});

test('the command line picks the one module of the command it names, wherever the global options stand', () => {
  const names = (args: string[]) => modulesFor(args).flatMap((m) => m.names);
  assert.deepEqual(names(['snapshots']), ['snapshots']);
  assert.deepEqual(names(['-r', '/x', '--json', 'backup', '/data', '--tag', 'a']), ['backup']);
  assert.deepEqual(names(['--repo=/x', '-p', 'pw.txt', 'key', 'list']), ['key']);
  assert.deepEqual(names(['-r/x', 'recover', '--help']), ['teardown', 'recover']);
  assert.deepEqual(names(['--version']), []);
  const all = COMMAND_MODULES.flatMap((m) => m.names);
  for (const args of [[], ['--help'], ['help', 'backup'], ['snapshot'], ['-r'], ['--bogus', 'backup']]) assert.deepEqual(names(args), all, args.join(' '));
});

test('backing up a plain folder loads no config parser, container, database or remote-storage library', async () => {
  const r = await loadedBy(['-r', repo, 'backup', path.join(tmp, 'data')]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(HEAVY.filter((p) => r.packages.has(p)), []);
  assert.ok(r.modules.includes('engine/archiver'), 'the trace sees the modules the backup runs');
  assert.ok(!r.modules.some((m) => m.startsWith('orchestrator/') || m.startsWith('sources/')), r.modules.join(' '));
});

test('listing snapshots loads neither the archiver nor the chunker', async () => {
  const r = await loadedBy(['-r', repo, 'snapshots']);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(r.modules.includes('cli/commands/snapshots'));
  assert.ok(!r.modules.some((m) => m === 'engine/archiver' || m === 'chunker/chunker' || m.startsWith('cli/commands/backup')), r.modules.join(' '));
  assert.deepEqual(HEAVY.filter((p) => r.packages.has(p) && p !== 'cli-table3'), []);
});

test('--version loads no command at all', async () => {
  const r = await loadedBy(['--version']);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(!r.modules.some((m) => m.startsWith('cli/commands/') || m.startsWith('repo/')), r.modules.join(' '));
});
