// Parses cairn.yaml keeping where every key and value sits, so validation
// errors (which only know key paths) can name file:line:col.
import { type Document, isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument, type YAMLError } from 'yaml';
import { ConfigError, type ConfigLocation, type KeyPath } from './configError.js';

/** Where one node of the file is: its key (for mapping entries), its value, and its path in the file. */
interface NodePosition {
  keyOffset: number | undefined;
  valueOffset: number;
  /** The path in the file; differs from the lookup path for values that came from an environment overlay. */
  filePath: KeyPath;
  kind: 'map' | 'seq' | 'null' | 'scalar';
}

/** What a lookup finds: the file path of the node (plus any part that does not exist) and where it is. */
export interface LocatedPath {
  path: KeyPath;
  location: ConfigLocation;
}

const pathKey = (path: KeyPath): string => JSON.stringify(path);

/** Positions of every key and value in a parsed file, by key path. */
export class PositionMap {
  constructor(
    readonly file: string,
    private readonly lineCounter: LineCounter,
    private readonly entries: Map<string, NodePosition>,
  ) {}

  /**
   * Where `path` is: its key when `at` is 'key' (or, with 'auto', when its
   * value is a mapping or list), else its value. When it does not exist (a
   * missing key), its nearest existing parent.
   */
  locate(path: KeyPath, at: 'key' | 'value' | 'auto' = 'auto'): LocatedPath | undefined {
    for (let n = path.length; n >= 0; n--) {
      const entry = this.entries.get(pathKey(path.slice(0, n)));
      if (!entry) continue;
      const mode = n === path.length ? at : 'auto';
      const wantKey = mode === 'key' || (mode === 'auto' && (entry.kind === 'map' || entry.kind === 'seq'));
      const offset = wantKey && entry.keyOffset !== undefined ? entry.keyOffset : entry.valueOffset;
      const { line, col } = this.lineCounter.linePos(offset);
      return { path: [...entry.filePath, ...path.slice(n)], location: { file: this.file, line, col } };
    }
    return undefined;
  }

  /**
   * The positions after `environments.<name>` was deep-merged onto the top
   * level, mirroring the merge itself: mappings merge, anything else replaces,
   * null removes.
   */
  withOverlay(prefix: KeyPath): PositionMap {
    const merged = new Map(this.entries);
    const overlay: Array<[KeyPath, NodePosition]> = [];
    for (const [k, entry] of this.entries) {
      const path = JSON.parse(k) as KeyPath;
      if (path.length <= prefix.length || !prefix.every((p, i) => path[i] === p)) continue;
      overlay.push([path.slice(prefix.length), entry]);
    }
    // Parents come before children in the walk, so replacing a subtree never
    // deletes positions the overlay itself adds below it.
    for (const [path, entry] of overlay) {
      const k = pathKey(path);
      if (entry.kind === 'map') {
        if (!merged.has(k)) merged.set(k, entry);
        continue;
      }
      const head = k.slice(0, -1);
      for (const existing of [...merged.keys()]) {
        if (existing === k || existing.startsWith(`${head},`)) merged.delete(existing);
      }
      if (entry.kind !== 'null') merged.set(k, entry);
    }
    return new PositionMap(this.file, this.lineCounter, merged);
  }
}

/** A parsed config file: its plain data and where everything is. */
export interface ParsedYaml {
  data: unknown;
  positions: PositionMap;
}

/** Parses YAML text; syntax errors become a ConfigError naming file:line:col and how to fix it. */
export function parseYamlWithPositions(text: string, file: string): ParsedYaml {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, merge: true, uniqueKeys: true, prettyErrors: false });
  const error = doc.errors[0];
  if (error) throw yamlSyntaxError(error, file, lineCounter);
  const entries = new Map<string, NodePosition>();
  const positions = new PositionMap(file, lineCounter, entries);
  walk(doc, doc.contents, [], undefined, entries, 0);
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 10_000 });
  } catch (err) {
    throw new ConfigError([
      {
        path: [],
        message: `cannot read YAML: ${(err as Error).message}`,
        remedy: 'Simplify the anchors and aliases (&name / *name) in the file.',
        location: { file, line: 1, col: 1 },
      },
    ]);
  }
  return { data, positions };
}

function walk(
  doc: Document,
  node: unknown,
  path: KeyPath,
  keyOffset: number | undefined,
  entries: Map<string, NodePosition>,
  depth: number,
): void {
  if (depth > 64) return; // aliases can make a structure refer to itself
  let valueOffset = (node as { range?: [number, number, number] } | null)?.range?.[0];
  if (isAlias(node)) node = node.resolve(doc);
  const kind = isMap(node) ? 'map' : isSeq(node) ? 'seq' : node === null || node === undefined || (isScalar(node) && node.value === null) ? 'null' : 'scalar';
  entries.set(pathKey(path), { keyOffset, valueOffset: valueOffset ?? keyOffset ?? 0, filePath: path, kind });
  if (isMap(node)) {
    const merges: unknown[] = [];
    for (const pair of node.items) {
      const key = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
      if (key === '<<' && isScalar(pair.key)) {
        merges.push(pair.value);
        continue;
      }
      const keyStart = (pair.key as { range?: [number, number, number] } | null)?.range?.[0];
      walk(doc, pair.value, [...path, key], keyStart, entries, depth + 1);
    }
    // `<<: *base` entries fill in only keys the mapping does not set itself.
    for (const merge of merges) {
      const sources = isSeq(merge) ? merge.items : [merge];
      for (const source of sources) {
        const target = isAlias(source) ? source.resolve(doc) : source;
        if (!isMap(target)) continue;
        for (const pair of target.items) {
          const key = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
          if (entries.has(pathKey([...path, key]))) continue;
          const keyStart = (pair.key as { range?: [number, number, number] } | null)?.range?.[0];
          walk(doc, pair.value, [...path, key], keyStart, entries, depth + 1);
        }
      }
    }
  } else if (isSeq(node)) {
    node.items.forEach((item, i) => walk(doc, item, [...path, i], undefined, entries, depth + 1));
  }
}

const YAML_REMEDIES: Record<string, string> = {
  TAB_AS_INDENT: 'Indent with spaces, not tabs.',
  DUPLICATE_KEY: 'Remove one of the two entries with this key, or merge them into one.',
  MULTIPLE_DOCS: 'Keep a single YAML document: remove the extra "---" line.',
  BAD_ALIAS: 'Define the anchor (&name) before using it as *name.',
  MISSING_CHAR: 'Close the quote or bracket opened before this point.',
};

function yamlSyntaxError(error: YAMLError, file: string, lineCounter: LineCounter): ConfigError {
  const { line, col } = lineCounter.linePos(error.pos[0]);
  const what = error.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
  const remedy =
    YAML_REMEDIES[error.code] ??
    `Check the indentation around line ${line} (spaces only; items of one mapping or list line up), and quote values that contain ": " or " #" or start with a special character such as {, [, *, & or @.`;
  return new ConfigError([{ path: [], message: `invalid YAML: ${what}`, remedy, location: { file, line, col } }], { cause: error });
}
