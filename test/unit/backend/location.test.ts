// Repository locations in restic's syntax: what each accepted form means, and the errors for the rest.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type Location, formatLocation, parseLocation } from '../../../src/backend/location.js';
import { CairnError } from '../../../src/errors.js';

const accepted: Array<[string, Location]> = [
  ['/srv/backup', { kind: 'local', path: '/srv/backup' }],
  ['backups/home', { kind: 'local', path: 'backups/home' }],
  ['local:/srv/backup', { kind: 'local', path: '/srv/backup' }],
  ['sftp:alice@nas:/srv/restic', { kind: 'sftp', user: 'alice', host: 'nas', path: '/srv/restic' }],
  ['sftp:nas:restic/home', { kind: 'sftp', host: 'nas', path: 'restic/home' }],
  ['sftp:alice@[fe80::1]:/srv/r', { kind: 'sftp', user: 'alice', host: 'fe80::1', path: '/srv/r' }],
  ['sftp://alice@nas:2222//srv/restic', { kind: 'sftp', user: 'alice', host: 'nas', port: 2222, path: '/srv/restic' }],
  ['sftp://alice@nas:2222/restic', { kind: 'sftp', user: 'alice', host: 'nas', port: 2222, path: 'restic' }],
  ['sftp://nas/restic', { kind: 'sftp', host: 'nas', path: 'restic' }],
  ['s3:https://s3.amazonaws.com/bucket', { kind: 's3', endpoint: 'https://s3.amazonaws.com', bucket: 'bucket', prefix: '' }],
  ['s3:http://127.0.0.1:9000/bucket/some/prefix/', { kind: 's3', endpoint: 'http://127.0.0.1:9000', bucket: 'bucket', prefix: 'some/prefix' }],
  ['s3:minio.lan/bucket/prefix', { kind: 's3', endpoint: 'https://minio.lan', bucket: 'bucket', prefix: 'prefix' }],
  ['rest:http://127.0.0.1:8000/', { kind: 'rest', url: 'http://127.0.0.1:8000/' }],
  ['rest:https://backup.lan:8000/alice', { kind: 'rest', url: 'https://backup.lan:8000/alice/' }],
  ['rest:https://alice:p%40ss@backup.lan:8000/alice/', { kind: 'rest', url: 'https://backup.lan:8000/alice/', username: 'alice', password: 'p@ss' }],
];

describe('accepted repository locations', () => {
  for (const [input, want] of accepted) {
    test(`${input}`, () => assert.deepEqual(parseLocation(input), want));
  }
});

const rejected: Array<[string, RegExp]> = [
  ['', /empty/],
  ['local:', /needs a path/],
  ['sftp:', /expected sftp:/],
  ['sftp:nas', /expected sftp:/],
  ['sftp:nas:', /path of the repository is missing/],
  ['sftp://nas', /path of the repository is missing/],
  ['sftp://nas:port/x', /not a port number/],
  ['sftp://nas:99999/x', /not a port number/],
  ['s3:http://127.0.0.1:9000', /bucket is missing/],
  ['s3:http://127.0.0.1:9000/', /bucket is missing/],
  ['s3:minio.lan', /bucket is missing/],
  ['s3:http://key:secret@host/bucket', /AWS_ACCESS_KEY_ID/],
  ['rest:', /expected rest:http/],
  ['rest:ftp://host/', /expected rest:http/],
  ['rest:http://host:8000/?x=1', /query/],
];

describe('malformed locations are refused with the accepted forms', () => {
  for (const [input, why] of rejected) {
    test(`"${input}"`, () => {
      assert.throws(
        () => parseLocation(input),
        (e: unknown) => {
          assert.ok(e instanceof CairnError);
          assert.equal(e.code, 'bad-location');
          assert.match(e.message, why);
          assert.match(e.remedy, /sftp:user@host:\/abs\/path/);
          assert.match(e.remedy, /rest:http\(s\):\/\//);
          return true;
        },
      );
    });
  }

  test('a password in a refused location is not repeated in the message', () => {
    assert.throws(() => parseLocation('rest:http://u:hunter2@host:8000/?q'), (e: unknown) => e instanceof CairnError && !e.message.includes('hunter2'));
  });

  test('backends cairn does not implement are named, not taken for folders', () => {
    assert.throws(() => parseLocation('b2:bucket:path'), (e: unknown) => e instanceof CairnError && e.code === 'unsupported' && /b2/.test(e.message));
  });
});

describe('formatting a location', () => {
  test('round-trips through parseLocation', () => {
    for (const [input] of accepted) {
      const loc = parseLocation(input);
      if (loc.kind === 'rest' && loc.password !== undefined) continue;
      assert.deepEqual(parseLocation(formatLocation(loc)), loc, input);
    }
  });

  test('hides the REST password', () => {
    assert.equal(formatLocation(parseLocation('rest:https://alice:secret@host:8000/r/')), 'rest:https://alice:***@host:8000/r/');
  });
});
