// Quadlet unit files (podman's systemd generator input): `.container`, `.volume`,
// `.pod`, `.kube` and `.network` files in systemd's INI syntax. cairn reads them to
// learn which named volumes a deployment keeps its data in, which host paths it
// bind-mounts, and which systemd services run it. The rules follow podman's
// quadlet: `Volume=SRC:DEST[:OPTS]` where SRC is a host path (bind mount), a
// `NAME.volume` unit (volume `systemd-NAME` unless that unit sets VolumeName=),
// or a plain volume name; `Mount=type=volume|bind,...` likewise; `.kube` units
// name a Kubernetes YAML whose persistentVolumeClaims are podman volumes.
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { describeError, isErrno } from '../errors.js';

/** The kinds of quadlet unit files cairn understands. */
export type QuadletKind = 'container' | 'volume' | 'pod' | 'kube' | 'network';

/** File extensions of quadlet units, by kind. */
export const quadletExtensions: Record<`.${QuadletKind}`, QuadletKind> = {
  '.container': 'container',
  '.volume': 'volume',
  '.pod': 'pod',
  '.kube': 'kube',
  '.network': 'network',
};

/** One `Key=Value` line of a unit file (continuation lines joined). */
export interface UnitEntry {
  key: string;
  value: string;
  /** The file the line is in (a drop-in's own path for drop-in entries). */
  file: string;
  /** 1-based line number where the entry starts. */
  line: number;
}

/** A `[Section]` of a unit file, with the entries of every drop-in appended. */
export interface UnitSection {
  name: string;
  line: number;
  entries: UnitEntry[];
}

/** A unit file in systemd's INI syntax. */
export interface ParsedUnit {
  file: string;
  sections: UnitSection[];
}

/** Something wrong in a unit file, by file and line (line 0: the file as a whole). */
export interface QuadletProblem {
  file: string;
  line: number;
  message: string;
}

/** One quadlet unit file: what it is and the systemd service quadlet makes of it. */
export interface QuadletUnit {
  file: string;
  kind: QuadletKind;
  /** The file name without extension ("nextcloud" for nextcloud.container). */
  name: string;
  /** The generated systemd service ("nextcloud.service", "data-volume.service"). */
  service: string;
  /** The podman object it creates: container, volume, network or pod name (none for .kube). */
  objectName?: string;
  /** Drop-in files merged into it (`<file>.d/*.conf`). */
  dropIns: string[];
  unit: ParsedUnit;
}

/** Where a unit mounts a volume. */
export interface QuadletVolumeUse {
  /** The unit file (container, pod or kube) that mounts it. */
  unit: string;
  /** The file and line saying so (the unit, one of its drop-ins, or its Kubernetes YAML). */
  file: string;
  line: number;
  destination: string;
}

/** A named podman volume a set of quadlets uses or defines. */
export interface QuadletVolume {
  /** The podman volume name. */
  name: string;
  /** The file that defines it, if any: its `.volume` unit, or the Kubernetes YAML with its PersistentVolumeClaim. */
  definedBy?: string;
  /** From the `.volume` unit: Driver=. */
  driver?: string;
  /** From the `.volume` unit: Label= lines. */
  labels: Record<string, string>;
  /** From the `.volume` unit: Device=, Type=, Options= (as `podman volume create --opt`). */
  options: Record<string, string>;
  usedBy: QuadletVolumeUse[];
}

/** A host path a unit bind-mounts into a container. */
export interface QuadletBindMount {
  hostPath: string;
  /** The unit file that mounts it. */
  unit: string;
  /** The file and line saying so. */
  file: string;
  line: number;
  destination: string;
}

/** Everything read from a set of quadlet files and directories. */
export interface QuadletSet {
  units: QuadletUnit[];
  volumes: QuadletVolume[];
  bindMounts: QuadletBindMount[];
  problems: QuadletProblem[];
  /** Every file read (units, drop-ins, Kubernetes YAML), absolute. */
  files: string[];
  /** Configured paths that do not exist. */
  missing: string[];
}

/** Options of {@link loadQuadlets}. */
export interface QuadletLoadOptions {
  /** What `%h` expands to; default the current user's home directory. */
  home?: string;
}

const volumeNamePattern = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;
const keyPattern = /^[A-Za-z0-9_-]+$/;

/**
 * Parses systemd unit syntax: `[Section]` headers, `Key=Value` lines,
 * `#`/`;` comments, trailing-backslash continuations. Lines that are none of
 * these are reported by line number and skipped.
 */
export function parseUnitFile(text: string, file: string): { unit: ParsedUnit; problems: QuadletProblem[] } {
  const problems: QuadletProblem[] = [];
  const sections: UnitSection[] = [];
  let current: UnitSection | undefined;
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const startLine = i + 1;
    let line = lines[i]!.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    // A trailing backslash joins the next line (comment lines in between are skipped), as systemd does.
    while (line.endsWith('\\') && i + 1 < lines.length) {
      line = line.slice(0, -1) + ' ';
      let next = lines[++i]!.trim();
      while ((next.startsWith('#') || next.startsWith(';')) && i + 1 < lines.length) next = lines[++i]!.trim();
      line += next;
    }
    if (line.endsWith('\\')) line = line.slice(0, -1);
    if (line.startsWith('[')) {
      if (!line.endsWith(']') || line.length < 3) {
        problems.push({ file, line: startLine, message: `malformed section header "${line}" (expected [Name])` });
        current = undefined;
        continue;
      }
      const name = line.slice(1, -1).trim();
      current = sections.find((s) => s.name === name);
      if (!current) {
        current = { name, line: startLine, entries: [] };
        sections.push(current);
      }
      continue;
    }
    const eq = line.indexOf('=');
    if (eq < 0) {
      problems.push({ file, line: startLine, message: `expected Key=Value, found "${clip(line)}"` });
      continue;
    }
    const key = line.slice(0, eq).trim();
    if (!keyPattern.test(key)) {
      problems.push({ file, line: startLine, message: `invalid key "${clip(key)}"` });
      continue;
    }
    if (!current) {
      problems.push({ file, line: startLine, message: `${key}= is outside any [Section]` });
      continue;
    }
    current.entries.push({ key, value: line.slice(eq + 1).trim(), file, line: startLine });
  }
  return { unit: { file, sections }, problems };
}

function clip(s: string): string {
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

/** All values of `key` in `section`, in file order. */
export function unitValues(unit: ParsedUnit, section: string, key: string): UnitEntry[] {
  return unit.sections.filter((s) => s.name === section).flatMap((s) => s.entries.filter((e) => e.key === key));
}

/** The last value of `key` in `section` (later lines and drop-ins override earlier ones). */
export function unitValue(unit: ParsedUnit, section: string, key: string): UnitEntry | undefined {
  return unitValues(unit, section, key).at(-1);
}

/** Splits a value into words the way systemd does: whitespace-separated, with "double" and 'single' quotes. */
export function splitWords(value: string): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let quote: '"' | "'" | undefined;
  for (let i = 0; i < value.length; i++) {
    const c = value[i]!;
    if (quote) {
      if (c === quote) quote = undefined;
      else if (c === '\\' && quote === '"' && i + 1 < value.length) word += value[++i];
      else word += c;
    } else if (c === '"' || c === "'") {
      quote = c;
      inWord = true;
    } else if (c === '\\' && i + 1 < value.length) {
      word += value[++i];
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
    } else {
      word += c;
      inWord = true;
    }
  }
  if (inWord) words.push(word);
  return words;
}

/** Expands the systemd specifiers that matter for paths: %h (home) and %% (a percent sign). */
function expandSpecifiers(value: string, home: string): string {
  return value.replace(/%[h%]/g, (m) => (m === '%%' ? '%' : home));
}

/** Removes one level of surrounding quotes from a whole value. */
function unquote(value: string): string {
  if (value.length >= 2 && (value[0] === '"' || value[0] === "'") && value.at(-1) === value[0]) return value.slice(1, -1);
  return value;
}

const sectionOf: Record<QuadletKind, string> = { container: 'Container', volume: 'Volume', pod: 'Pod', kube: 'Kube', network: 'Network' };

function serviceName(kind: QuadletKind, name: string): string {
  if (kind === 'container' || kind === 'kube') return `${name}.service`;
  return `${name}-${kind}.service`;
}

/** Reads a file, or undefined when it does not exist. */
async function readIfExists(file: string): Promise<string | undefined> {
  try {
    return await fs.readFile(file, 'utf8');
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return undefined;
    throw err;
  }
}

/** Every quadlet unit below `dir` (sub-directories included, `*.d` drop-in folders excepted), sorted. */
async function unitFilesIn(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string): Promise<void> => {
    for (const ent of (await fs.readdir(d, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = path.join(d, ent.name);
      if (ent.isDirectory()) {
        if (!ent.name.endsWith('.d')) await walk(p);
      } else if ((ent.isFile() || ent.isSymbolicLink()) && path.extname(ent.name) in quadletExtensions) {
        out.push(p);
      }
    }
  };
  await walk(dir);
  return out;
}

/** The drop-ins of a unit: `<file>.d/*.conf`, in name order. */
async function dropInsOf(file: string): Promise<string[]> {
  try {
    const names = (await fs.readdir(`${file}.d`)).filter((n) => n.endsWith('.conf')).sort();
    return names.map((n) => path.join(`${file}.d`, n));
  } catch (err) {
    if (isErrno(err, 'ENOENT') || isErrno(err, 'ENOTDIR')) return [];
    throw err;
  }
}

/**
 * Reads quadlet files and directories (`~/.config/containers/systemd`,
 * `/etc/containers/systemd`, or single unit files) and finds the named volumes
 * they use or define, the host paths they bind-mount and the services they
 * generate. Malformed lines and dangling references are returned as problems
 * (file and line, sorted), never thrown; paths that do not exist are listed in `missing`.
 */
export async function loadQuadlets(paths: readonly string[], opts: QuadletLoadOptions = {}): Promise<QuadletSet> {
  const home = opts.home ?? os.homedir();
  const set: QuadletSet = { units: [], volumes: [], bindMounts: [], problems: [], files: [], missing: [] };
  const unitFiles: string[] = [];
  for (const p of paths) {
    const abs = path.resolve(p);
    let st;
    try {
      st = await fs.stat(abs);
    } catch (err) {
      if (isErrno(err, 'ENOENT')) {
        set.missing.push(abs);
        continue;
      }
      throw err;
    }
    if (st.isDirectory()) unitFiles.push(...(await unitFilesIn(abs)));
    else if (path.extname(abs) in quadletExtensions) unitFiles.push(abs);
    else set.problems.push({ file: abs, line: 0, message: `not a quadlet unit (expected one of ${Object.keys(quadletExtensions).join(', ')})` });
  }
  for (const file of [...new Set(unitFiles)]) {
    const text = await readIfExists(file);
    if (text === undefined) {
      set.missing.push(file);
      continue;
    }
    const kind = quadletExtensions[path.extname(file) as keyof typeof quadletExtensions];
    const parsed = parseUnitFile(text, file);
    set.problems.push(...parsed.problems);
    set.files.push(file);
    const dropIns = await dropInsOf(file);
    for (const d of dropIns) {
      const extra = parseUnitFile((await readIfExists(d)) ?? '', d);
      set.problems.push(...extra.problems);
      set.files.push(d);
      for (const s of extra.unit.sections) {
        const into = parsed.unit.sections.find((x) => x.name === s.name);
        if (into) into.entries.push(...s.entries);
        else parsed.unit.sections.push(s);
      }
    }
    const name = path.basename(file, path.extname(file));
    set.units.push({ file, kind, name, service: serviceName(kind, name), dropIns, unit: parsed.unit });
  }
  await analyze(set, home);
  set.problems.sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line);
  return set;
}

/** Fills in object names, volumes and bind mounts from the parsed units. */
async function analyze(set: QuadletSet, home: string): Promise<void> {
  const volumes = new Map<string, QuadletVolume>();
  const volumeEntry = (name: string): QuadletVolume => {
    let v = volumes.get(name);
    if (!v) {
      v = { name, labels: {}, options: {}, usedBy: [] };
      volumes.set(name, v);
    }
    return v;
  };
  const problem = (file: string, line: number, message: string): void => {
    set.problems.push({ file, line, message });
  };
  // First the .volume units, so that NAME.volume references resolve to their VolumeName=.
  const volumeUnits = new Map<string, QuadletUnit>();
  for (const u of set.units) {
    const section = sectionOf[u.kind];
    if (!u.unit.sections.some((s) => s.name === section)) {
      problem(u.file, 0, `has no [${section}] section`);
      continue;
    }
    if (u.kind === 'volume') {
      const vn = unitValue(u.unit, 'Volume', 'VolumeName');
      u.objectName = vn?.value ? unquote(vn.value) : `systemd-${u.name}`;
      if (!volumeNamePattern.test(u.objectName)) {
        problem(u.file, vn?.line ?? 0, `invalid volume name "${u.objectName}"`);
        continue;
      }
      volumeUnits.set(path.basename(u.file), u);
      const v = volumeEntry(u.objectName);
      v.definedBy = u.file;
      const driver = unitValue(u.unit, 'Volume', 'Driver');
      if (driver?.value) v.driver = driver.value;
      for (const l of unitValues(u.unit, 'Volume', 'Label')) {
        for (const word of splitWords(l.value)) {
          const eq = word.indexOf('=');
          if (eq <= 0) problem(u.file, l.line, `Label= expects key=value, found "${clip(word)}"`);
          else v.labels[word.slice(0, eq)] = word.slice(eq + 1);
        }
      }
      const opt = (key: string, as: string): void => {
        const e = unitValue(u.unit, 'Volume', key);
        if (e?.value) v.options[as] = unquote(e.value);
      };
      opt('Device', 'device');
      opt('Type', 'type');
      opt('Options', 'o');
    } else if (u.kind === 'container') {
      const cn = unitValue(u.unit, 'Container', 'ContainerName');
      u.objectName = cn?.value ? unquote(cn.value) : `systemd-${u.name}`;
      if (!unitValue(u.unit, 'Container', 'Image')?.value && !unitValue(u.unit, 'Container', 'Rootfs')?.value) {
        problem(u.file, u.unit.sections.find((s) => s.name === 'Container')!.line, 'has neither Image= nor Rootfs=');
      }
    } else if (u.kind === 'network') {
      const nn = unitValue(u.unit, 'Network', 'NetworkName');
      u.objectName = nn?.value ? unquote(nn.value) : `systemd-${u.name}`;
    } else if (u.kind === 'pod') {
      const pn = unitValue(u.unit, 'Pod', 'PodName');
      u.objectName = pn?.value ? unquote(pn.value) : `systemd-${u.name}`;
    }
  }

  const resolveSource = (u: QuadletUnit, e: UnitEntry, source: string, destination: string): void => {
    const src = expandSpecifiers(source, home);
    if (src.startsWith('/') || src.startsWith('.')) {
      set.bindMounts.push({ hostPath: path.resolve(path.dirname(u.file), src), unit: u.file, file: e.file, line: e.line, destination });
      return;
    }
    let name = src;
    if (src.endsWith('.volume')) {
      const target = volumeUnits.get(src);
      if (!target?.objectName) {
        problem(e.file, e.line, `${e.key}= refers to ${src}, which is not in this set of quadlets`);
        return;
      }
      name = target.objectName;
    } else if (!volumeNamePattern.test(src)) {
      problem(e.file, e.line, `invalid volume name "${clip(src)}" in ${e.key}=`);
      return;
    }
    volumeEntry(name).usedBy.push({ unit: u.file, file: e.file, line: e.line, destination });
  };

  for (const u of set.units) {
    if (u.kind !== 'container' && u.kind !== 'pod') continue;
    const section = sectionOf[u.kind];
    for (const e of unitValues(u.unit, section, 'Volume')) {
      const value = unquote(e.value);
      if (value === '') {
        problem(e.file, e.line, 'Volume= is empty');
        continue;
      }
      const parts = value.split(':');
      // A single part is an anonymous volume at that container path: nothing to keep.
      if (parts.length < 2) continue;
      if (parts[0] === '' || parts[1] === '') {
        problem(e.file, e.line, `Volume= expects SOURCE:DESTINATION[:OPTIONS], found "${clip(value)}"`);
        continue;
      }
      resolveSource(u, e, parts[0]!, parts[1]!);
    }
    for (const e of unitValues(u.unit, section, 'Mount')) {
      const fields = new Map<string, string>();
      for (const part of unquote(e.value).split(',')) {
        const eq = part.indexOf('=');
        if (eq > 0) fields.set(part.slice(0, eq).trim().toLowerCase(), unquote(part.slice(eq + 1).trim()));
        else if (part.trim()) fields.set(part.trim().toLowerCase(), 'true');
      }
      const type = fields.get('type');
      const source = fields.get('source') ?? fields.get('src');
      const destination = fields.get('destination') ?? fields.get('dst') ?? fields.get('target') ?? '';
      if (!type) {
        problem(e.file, e.line, 'Mount= has no type=');
        continue;
      }
      if (type === 'volume') {
        if (source) resolveSource(u, e, source, destination);
      } else if (type === 'bind') {
        if (!source) problem(e.file, e.line, 'Mount=type=bind has no source=');
        else resolveSource(u, e, source.startsWith('/') || source.startsWith('.') ? source : `./${source}`, destination);
      }
    }
  }

  for (const u of set.units) {
    if (u.kind !== 'kube') continue;
    const yamls = unitValues(u.unit, 'Kube', 'Yaml');
    if (yamls.length === 0) problem(u.file, u.unit.sections.find((s) => s.name === 'Kube')?.line ?? 0, 'has no Yaml=');
    for (const e of yamls) {
      const yamlPath = path.resolve(path.dirname(u.file), expandSpecifiers(unquote(e.value), home));
      const text = await readIfExists(yamlPath).catch((err: unknown) => {
        problem(e.file, e.line, `cannot read ${yamlPath}: ${describeError(err)}`);
        return undefined;
      });
      if (text === undefined) {
        problem(e.file, e.line, `Yaml= names ${yamlPath}, which does not exist`);
        continue;
      }
      if (!set.files.includes(yamlPath)) set.files.push(yamlPath);
      kubeVolumes(text, yamlPath, u, {
        claim: (name) => {
          volumeEntry(name).definedBy ??= yamlPath;
        },
        volume: (name, line, destination) => volumeEntry(name).usedBy.push({ unit: u.file, file: yamlPath, line, destination }),
        bind: (hostPath, line, destination) => set.bindMounts.push({ hostPath, unit: u.file, file: yamlPath, line, destination }),
        problem,
      });
    }
  }
  set.volumes = [...volumes.values()].sort((a, b) => a.name.localeCompare(b.name));
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

function asObject(v: unknown): Record<string, Json> | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, Json>) : undefined;
}

/** Callbacks of {@link kubeVolumes}. */
interface KubeVolumeSink {
  /** A PersistentVolumeClaim document: `podman kube play` creates a volume of that name. */
  claim(name: string): void;
  volume(name: string, line: number, destination: string): void;
  bind(hostPath: string, line: number, destination: string): void;
  problem(file: string, line: number, message: string): void;
}

/**
 * The volumes of a Kubernetes YAML as `podman kube play` sees them:
 * persistentVolumeClaims are named podman volumes (claimName), hostPath volumes
 * are bind mounts, PersistentVolumeClaim documents create volumes.
 */
function kubeVolumes(text: string, file: string, unit: QuadletUnit, sink: KubeVolumeSink): void {
  const lineOf = (offset: number): number => text.slice(0, offset).split('\n').length;
  // The line of `key: value` inside one document (for messages and metadata); the document's first line if not found.
  const lineOfValue = (from: number, to: number, key: string, value: string): number => {
    const escaped = value.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    const m = new RegExp(`${key}:\\s*["']?${escaped}["']?\\s*$`, 'm').exec(text.slice(from, to));
    return lineOf(from + (m?.index ?? 0));
  };
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length > 0) {
      const err = doc.errors[0]!;
      sink.problem(file, lineOf(err.pos[0]), `YAML: ${err.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')}`);
      continue;
    }
    const obj = asObject(doc.toJS());
    if (!obj) continue;
    const [from, , to] = doc.range;
    if (obj.kind === 'PersistentVolumeClaim') {
      const name = asObject(obj.metadata)?.name;
      if (typeof name === 'string') sink.claim(name);
      continue;
    }
    const spec = obj.kind === 'Pod' ? asObject(obj.spec) : asObject(asObject(asObject(obj.spec)?.template)?.spec);
    if (!spec) continue;
    const mounts = new Map<string, string>();
    for (const c of Array.isArray(spec.containers) ? spec.containers : []) {
      const vm = asObject(c)?.volumeMounts;
      for (const m of Array.isArray(vm) ? vm : []) {
        const mo = asObject(m);
        if (typeof mo?.name === 'string' && typeof mo.mountPath === 'string' && !mounts.has(mo.name)) mounts.set(mo.name, mo.mountPath);
      }
    }
    for (const v of Array.isArray(spec.volumes) ? spec.volumes : []) {
      const vo = asObject(v);
      if (!vo || typeof vo.name !== 'string') continue;
      const destination = mounts.get(vo.name) ?? '';
      const claim = asObject(vo.persistentVolumeClaim)?.claimName;
      const hostPath = asObject(vo.hostPath)?.path;
      if (typeof claim === 'string') sink.volume(claim, lineOfValue(from, to, 'claimName', claim), destination);
      else if (typeof hostPath === 'string') sink.bind(path.resolve(path.dirname(unit.file), hostPath), lineOfValue(from, to, 'path', hostPath), destination);
    }
  }
}

/** One line per problem: "file:line: message" (line omitted when 0). */
export function formatQuadletProblem(p: QuadletProblem): string {
  return `${p.file}${p.line > 0 ? `:${p.line}` : ''}: ${p.message}`;
}

/** The units (container, pod, kube) that mount volume `name`, by file. */
export function unitsUsingVolume(set: QuadletSet, name: string): QuadletUnit[] {
  const files = new Set(set.volumes.find((v) => v.name === name)?.usedBy.map((u) => u.unit) ?? []);
  return set.units.filter((u) => files.has(u.file));
}
