import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runCairn } from '../helpers/cli.js';
import { readOrEmpty, startPodman, writerScript, type TestPodman } from '../helpers/podman.js';

// A two-container podman stack described by quadlets, driven through cairn.yaml and
// the CLI: backup with the containers stopped meanwhile, teardown, recover, rollback.
let pm: TestPodman;
let tmp: string;
let units: string;
let configPath: string;
let env: NodeJS.ProcessEnv;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const mountpoint = (v: string) => pm.podman('volume', 'inspect', '--format', '{{.Mountpoint}}', v);
const state = (c: string) => pm.podman('container', 'inspect', '--format', '{{.State.Status}}', c);

async function waitForGrowth(file: string): Promise<void> {
  const size = readOrEmpty(file).length;
  for (let i = 0; i < 100 && readOrEmpty(file).length === size; i++) await sleep(50);
  assert.ok(readOrEmpty(file).length > size, `${file} keeps growing: the container is writing`);
}

before(async () => {
  pm = await startPodman();
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'cairn-containers-'));
  units = path.join(tmp, 'quadlets');
  await fs.mkdir(units);
  await fs.writeFile(path.join(units, 'queue.container'), `[Container]\nImage=${pm.image}\nVolume=queue:/q\nExec=sh -c "${writerScript('/q/jobs')}"\n`);
  await fs.writeFile(path.join(units, 'web.container'), `[Container]\nImage=${pm.image}\nVolume=web-data.volume:/data\nExec=sh -c "${writerScript('/data/access.log')}"\n`);
  await fs.writeFile(path.join(units, 'web-data.volume'), '[Volume]\nVolumeName=web-data\nLabel=app=web\n');
  // no systemd here: create what quadlet would generate, as podman's CLI does
  pm.podman('volume', 'create', 'queue');
  pm.podman('volume', 'create', '--label', 'app=web', 'web-data');
  pm.podman('run', '-d', '--name', 'systemd-queue', '--network', 'none', '-v', 'queue:/q', pm.image, 'sh', '-c', writerScript('/q/jobs'));
  pm.podman('run', '-d', '--name', 'systemd-web', '--network', 'none', '-v', 'web-data:/data', pm.image, 'sh', '-c', writerScript('/data/access.log'));
  await fs.mkdir(path.join(mountpoint('web-data'), 'site'), { recursive: true });
  for (let i = 0; i < 200; i++) await fs.writeFile(path.join(mountpoint('web-data'), 'site', `page-${i}.html`), `<h1>page ${i}</h1>\n`);
  await fs.writeFile(path.join(tmp, 'state'), 'good');
  configPath = path.join(tmp, 'cairn.yaml');
  await fs.writeFile(
    configPath,
    `repositories:
  default: { url: ${path.join(tmp, 'repo')}, password_env: CAIRN_PASSWORD }
components:
  queue:
    sources:
      - { type: podman, name: containers, quadlets: [${path.join(units, 'queue.container')}] }
  web:
    depends_on: [queue]
    sources:
      - { type: podman, name: containers, quadlets: [${path.join(units, 'web.container')}, ${path.join(units, 'web-data.volume')}] }
      - type: command
        name: state
        backup: cat ${path.join(tmp, 'state')}
        restore: "d=$(cat); case \\"$d\\" in *BROKEN*) echo 'state refused' >&2; exit 1;; esac; printf %s \\"$d\\" > ${path.join(tmp, 'state')}"
`,
  );
  const c = pm.client;
  env = { CAIRN_PASSWORD: 'pods', CAIRN_PODMAN_ROOT: c.root, CAIRN_PODMAN_RUNROOT: c.runroot, CAIRN_PODMAN_TMPDIR: c.tmpdir, CAIRN_PODMAN_STORAGE_DRIVER: c.storageDriver, CAIRN_PODMAN_CONF: c.containersConf };
});

after(async () => {
  await pm?.stop();
  await fs.rm(tmp, { recursive: true, force: true });
});

const cairn = (...args: string[]) => runCairn([...args, '--config', configPath], { env });

test('backing up the stack leaves both containers running and stores volumes, units and metadata', async () => {
  const r = await cairn('backup', '--json');
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.equal(state('systemd-queue'), 'running');
  assert.equal(state('systemd-web'), 'running');
  const list = JSON.parse((await cairn('backup', 'list', '--json')).stdout) as { id: string; component: string }[];
  const web = list.find((l) => l.component === 'web')!;
  const info = JSON.parse((await cairn('backup', 'info', web.id, '--json')).stdout) as { sources: { name: string; items: { name: string }[] }[] };
  const names = info.sources.find((s) => s.name === 'containers')!.items.map((i) => i.name);
  assert.ok(names.includes('unit-web.container') && names.includes('volume-web-data') && names.includes('volumes.json') && names.includes('containers.json'), names.join(', '));
});

test('teardown removes containers, volumes and unit files; recover brings the volumes back and the containers running', async () => {
  const td = await cairn('teardown', '--force');
  assert.equal(td.code, 0, td.stdout + td.stderr);
  assert.equal(pm.podmanResult('container', 'exists', 'systemd-web').status, 1);
  assert.equal(pm.podmanResult('volume', 'exists', 'web-data').status, 1);
  assert.equal(pm.podmanResult('volume', 'exists', 'queue').status, 1);
  assert.deepEqual(await fs.readdir(units), []);

  const rc = await cairn('recover', '--json');
  assert.equal(rc.code, 0, rc.stdout + rc.stderr);
  assert.equal(state('systemd-queue'), 'running');
  assert.equal(state('systemd-web'), 'running');
  assert.equal(await fs.readFile(path.join(mountpoint('web-data'), 'site', 'page-199.html'), 'utf8'), '<h1>page 199</h1>\n');
  assert.equal((await fs.readdir(path.join(mountpoint('web-data'), 'site'))).length, 200);
  assert.deepEqual((await fs.readdir(units)).sort(), ['queue.container', 'web-data.volume', 'web.container']);
  await waitForGrowth(path.join(mountpoint('web-data'), 'access.log'));
});

test('a failed restore of the web component rolls back: the volume is as before and the container runs again', async () => {
  await fs.writeFile(path.join(tmp, 'state'), 'BROKEN');
  const b = await cairn('backup', '--component', 'web', '--json');
  assert.equal(b.code, 0, b.stdout + b.stderr);
  const broken = (JSON.parse(b.stdout.trim().split('\n').pop()!) as { components: { snapshot: string }[] }).components[0]!.snapshot;
  await fs.writeFile(path.join(tmp, 'state'), 'good again');
  await fs.writeFile(path.join(mountpoint('web-data'), 'site', 'new-page.html'), 'added after the backup');

  const r = await cairn('restore', '--component', 'web', '--snapshot', broken, '--force');
  assert.equal(r.code, 1);
  assert.match(r.stderr, /rollback succeeded/);
  assert.equal(await fs.readFile(path.join(mountpoint('web-data'), 'site', 'new-page.html'), 'utf8'), 'added after the backup');
  assert.equal(await fs.readFile(path.join(tmp, 'state'), 'utf8'), 'good again');
  assert.equal(state('systemd-web'), 'running');
  await waitForGrowth(path.join(mountpoint('web-data'), 'access.log'));
});
