// The quadlet parser against unit files shaped like real homelab deployments
// (test/fixtures/quadlets/homelab) and a set of files with mistakes on known
// lines (test/fixtures/quadlets/malformed).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import { formatQuadletProblem, loadQuadlets, parseUnitFile, splitWords, unitValue, unitsUsingVolume } from '../../../src/sources/quadlet.js';

const fixtures = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures/quadlets');
const homelab = path.join(fixtures, 'homelab');
const malformed = path.join(fixtures, 'malformed');
const rel = (p: string): string => path.relative(fixtures, p);

describe('quadlet parsing', () => {
  test('finds every named volume of a homelab set: Volume=, Mount=, .volume units with and without VolumeName=, drop-ins, pods and kube YAML', async () => {
    const set = await loadQuadlets([homelab], { home: '/home/ada' });
    assert.deepEqual(set.problems, []);
    assert.deepEqual(
      set.volumes.map((v) => ({ name: v.name, definedBy: v.definedBy && rel(v.definedBy), uses: v.usedBy.map((u) => `${rel(u.file)}:${u.line} ${u.destination}`) })),
      [
        { name: 'immich-cache', definedBy: undefined, uses: ['homelab/immich.pod:4 /cache'] },
        { name: 'immich-upload', definedBy: undefined, uses: ['homelab/immich-server.container:4 /usr/src/app/upload'] },
        { name: 'jellyfin-cache', definedBy: undefined, uses: ['homelab/media/jellyfin.yaml:32 /cache'] },
        { name: 'jellyfin-config', definedBy: 'homelab/media/jellyfin.yaml', uses: ['homelab/media/jellyfin.yaml:29 /config'] },
        { name: 'nextcloud-apps', definedBy: undefined, uses: ['homelab/nextcloud.container:14 /var/www/html/custom_apps'] },
        { name: 'nextcloud-data', definedBy: 'homelab/nextcloud-data.volume', uses: ['homelab/nextcloud.container:13 /var/www/html/data'] },
        { name: 'nextcloud-themes', definedBy: undefined, uses: ['homelab/nextcloud.container:19 /var/www/html/themes'] },
        { name: 'pg-backups', definedBy: undefined, uses: ['homelab/postgres.container:9 /backups'] },
        { name: 'pg-wal', definedBy: undefined, uses: ['homelab/postgres.container.d/10-wal.conf:2 /var/lib/postgresql/wal'] },
        { name: 'systemd-db', definedBy: 'homelab/db.volume', uses: ['homelab/postgres.container:8 /var/lib/postgresql/data'] },
      ],
    );
  });

  test('bind mounts are listed apart from volumes, with %h expanded and paths made absolute; anonymous volumes and tmpfs are ignored', async () => {
    const set = await loadQuadlets([homelab], { home: '/home/ada' });
    assert.deepEqual(
      set.bindMounts.map((b) => `${b.hostPath} <- ${rel(b.file)}:${b.line}`),
      [
        '/etc/localtime <- homelab/immich-server.container:5',
        '/home/ada/nextcloud/config <- homelab/nextcloud.container:15',
        '/srv/media <- homelab/nextcloud.container:16',
        '/srv/media <- homelab/media/jellyfin.yaml:35',
      ],
    );
    assert.ok(!set.volumes.some((v) => v.name === 'tmp' || v.name.startsWith('/')));
  });

  test('.volume units give their labels, driver and options; units get quadlet\'s service and object names', async () => {
    const set = await loadQuadlets([homelab], { home: '/home/ada' });
    const data = set.volumes.find((v) => v.name === 'nextcloud-data')!;
    assert.deepEqual(data.labels, { app: 'nextcloud', backup: 'daily with spaces', tier: 'gold' });
    const db = set.volumes.find((v) => v.name === 'systemd-db')!;
    assert.equal(db.driver, 'local');
    assert.deepEqual(db.labels, { app: 'postgres' });
    assert.deepEqual(
      set.units.map((u) => [u.name, u.kind, u.service, u.objectName ?? null]),
      [
        ['db', 'volume', 'db-volume.service', 'systemd-db'],
        ['homelab', 'network', 'homelab-network.service', 'systemd-homelab'],
        ['immich-server', 'container', 'immich-server.service', 'systemd-immich-server'],
        ['immich', 'pod', 'immich-pod.service', 'immich'],
        ['jellyfin', 'kube', 'jellyfin.service', null],
        ['nextcloud-data', 'volume', 'nextcloud-data-volume.service', 'nextcloud-data'],
        ['nextcloud', 'container', 'nextcloud.service', 'nextcloud'],
        ['postgres', 'container', 'postgres.service', 'postgres'],
      ],
    );
    assert.deepEqual(unitsUsingVolume(set, 'systemd-db').map((u) => u.service), ['postgres.service']);
    assert.ok(set.files.some((f) => f.endsWith('10-wal.conf')) && set.files.some((f) => f.endsWith('jellyfin.yaml')), 'drop-ins and kube YAML count as files of the set');
  });

  test('malformed files are reported by name and line, and the rest of the set is still read', async () => {
    const set = await loadQuadlets([malformed], { home: '/home/ada' });
    assert.deepEqual(set.problems.map((p) => `${rel(p.file)}:${p.line}: ${p.message}`), [
      'malformed/app.kube:2: Yaml= names ' + path.join(malformed, 'does-not-exist.yaml') + ', which does not exist',
      'malformed/bad.yaml:5: YAML: Block collections are not allowed within flow collections',
      'malformed/broken.container:1: Image= is outside any [Section]',
      'malformed/broken.container:5: malformed section header "[Container" (expected [Name])',
      'malformed/broken.container:6: Image= is outside any [Section]',
      'malformed/broken.container:9: expected Key=Value, found "this line has no equals sign"',
      'malformed/broken.container:10: Volume= is empty',
      'malformed/broken.container:11: Volume= refers to missing.volume, which is not in this set of quadlets',
      'malformed/broken.container:12: invalid volume name "bad name!" in Volume=',
      'malformed/broken.container:13: Volume= expects SOURCE:DESTINATION[:OPTIONS], found ":/data"',
      'malformed/empty.network:0: has no [Network] section',
      'malformed/labels.volume:2: Label= expects key=value, found "novalue"',
      'malformed/noimage.container:4: has neither Image= nor Rootfs=',
    ]);
    assert.deepEqual(set.volumes.map((v) => v.name), ['good-volume', 'orphan-data', 'systemd-labels']);
    assert.equal(formatQuadletProblem(set.problems.find((p) => p.line === 9)!), `${path.join(malformed, 'broken.container')}:9: expected Key=Value, found "this line has no equals sign"`);
  });

  test('single unit files can be named, and paths that do not exist are listed as missing rather than thrown', async () => {
    const set = await loadQuadlets([path.join(homelab, 'postgres.container'), path.join(homelab, 'db.volume'), path.join(homelab, 'gone.container')]);
    assert.deepEqual(set.volumes.map((v) => v.name), ['pg-backups', 'pg-wal', 'systemd-db']);
    assert.deepEqual(set.missing, [path.join(homelab, 'gone.container')]);
  });

  test('systemd syntax: continuation lines, comments, quotes, repeated sections and later values winning', () => {
    const { unit, problems } = parseUnitFile(
      ['[Container]', 'Image=a', 'Exec=run \\', '# a comment inside', '  --flag \\', '  last', '; other comment', '[Service]', 'Restart=no', '[Container]', 'Image = b '].join('\n'),
      'x.container',
    );
    assert.deepEqual(problems, []);
    assert.equal(unitValue(unit, 'Container', 'Exec')!.value, 'run  --flag  last');
    assert.equal(unitValue(unit, 'Container', 'Exec')!.line, 3);
    assert.equal(unitValue(unit, 'Container', 'Image')!.value, 'b');
    assert.equal(unit.sections.length, 2);
    assert.deepEqual(splitWords(`a=1 "b=two words" c='x y' d=\\"q`), ['a=1', 'b=two words', 'c=x y', 'd="q']);
  });

  test('relative bind mounts resolve against the unit file\'s directory', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'cairn-quadlet-'));
    try {
      writeFileSync(path.join(dir, 'web.container'), '[Container]\nImage=nginx\nVolume=./site:/usr/share/nginx/html:ro\nMount=type=bind,source=/etc/nginx,destination=/etc/nginx\n');
      const set = await loadQuadlets([dir]);
      assert.deepEqual(set.bindMounts.map((b) => b.hostPath), [path.join(dir, 'site'), '/etc/nginx']);
      assert.deepEqual(set.volumes, []);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
