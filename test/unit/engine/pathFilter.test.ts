// Include/exclude matching with restic's rules (internal/filter): patterns
// match runs of path components; relative patterns anywhere, `/`-patterns
// from the root; a match on a folder covers everything below it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PathFilter } from '../../../src/engine/pathFilter.js';

test('no patterns selects everything', () => {
  const f = new PathFilter();
  assert.ok(f.empty);
  assert.ok(f.matches('/a/b/c.txt'));
});

test('a relative pattern matches a name at any depth, and everything inside a matching folder', () => {
  const f = new PathFilter({ exclude: ['cache'] });
  assert.equal(f.matches('/home/u/cache', true), false);
  assert.equal(f.matches('/home/u/cache/x/y.bin'), false);
  assert.equal(f.matches('/home/u/cached'), true);
  assert.equal(f.matches('/cache'), false);
});

test('a relative pattern with several components matches them consecutively anywhere', () => {
  const f = new PathFilter({ exclude: ['u/*.tmp'] });
  assert.equal(f.matches('/home/u/a.tmp'), false);
  assert.equal(f.matches('/home/u/a.tmp/inner'), false);
  assert.equal(f.matches('/home/u/sub/a.tmp'), true);
  assert.equal(f.matches('/home/v/a.tmp'), true);
});

test('a pattern starting with / is anchored at the root', () => {
  const f = new PathFilter({ exclude: ['/var/log'] });
  assert.equal(f.matches('/var/log/syslog'), false);
  assert.equal(f.matches('/srv/var/log/syslog'), true);
});

test('* stays within one component, ? is one character, [..] a class, ** spans folders', () => {
  const f = new PathFilter({ exclude: ['/a/*/c', 'x?.log', '[0-9]*.bak', '/deep/**/leaf'] });
  assert.equal(f.matches('/a/b/c'), false);
  assert.equal(f.matches('/a/b/b/c'), true);
  assert.equal(f.matches('/q/x1.log'), false);
  assert.equal(f.matches('/q/x12.log'), true);
  assert.equal(f.matches('/q/7.bak'), false);
  assert.equal(f.matches('/q/n7.bak'), true);
  assert.equal(f.matches('/deep/leaf'), false);
  assert.equal(f.matches('/deep/1/2/3/leaf'), false);
  assert.equal(f.matches('/deep/1/2/3/leaves'), true);
});

test('* also matches names starting with a dot; braces are literal as in Go', () => {
  const f = new PathFilter({ exclude: ['*.swp', '{a,b}'] });
  assert.equal(f.matches('/x/.file.swp'), false);
  assert.equal(f.matches('/a'), true);
  assert.equal(f.matches('/{a,b}'), false);
});

test('with includes: matching entries and everything below them are selected; folders on the way are entered but not selected', () => {
  const f = new PathFilter({ include: ['/home/u/docs', '*.conf'] });
  const root = { included: false };
  const home = f.decide(['home'], true, root);
  assert.deepEqual([home.selected, home.descend], [false, true]);
  const docs = f.decide(['home', 'u', 'docs'], true, root);
  assert.deepEqual([docs.selected, docs.descend], [true, true]);
  const inside = f.decide(['home', 'u', 'docs', 'x.txt'], false, docs.state);
  assert.equal(inside.selected, true);
  assert.equal(f.decide(['etc', 'app.conf'], false, root).selected, true);
  assert.equal(f.decide(['etc', 'app.txt'], false, root).selected, false);
});

test('a rooted include does not enter folders that cannot lead to a match', () => {
  const f = new PathFilter({ include: ['/home/u/docs'] });
  const root = { included: false };
  assert.equal(f.decide(['srv'], true, root).descend, false);
  assert.equal(f.decide(['home', 'v'], true, root).descend, false);
  assert.equal(f.decide(['home', 'u'], true, root).descend, true);
  assert.equal(f.decide(['home', 'u', 'pics'], true, root).descend, false);
});

test('exclude wins over include', () => {
  const f = new PathFilter({ include: ['/data'], exclude: ['*.tmp'] });
  assert.equal(f.matches('/data/a.txt'), true);
  assert.equal(f.matches('/data/a.tmp'), false);
});

test('trailing slashes and doubled slashes in patterns are ignored; empty patterns do nothing', () => {
  const f = new PathFilter({ exclude: ['/var//cache/', '', '  '] });
  assert.equal(f.matches('/var/cache/x'), false);
  assert.equal(f.matches('/var/other'), true);
});
