// Config errors: every one names the file, line and column, the key path and
// what to do about it, so a user never has to guess which of 200 lines is wrong.
import { CairnError, ExitCode } from '../errors.js';

/** A path into the config: keys and list indexes, e.g. ['components', 'db', 'sources', 0]. */
export type KeyPath = ReadonlyArray<string | number>;

/** Where in a file something is (1-based). */
export interface ConfigLocation {
  file: string;
  line: number;
  col: number;
}

/** One thing wrong with a config. */
export interface ConfigProblem {
  /** Path of the offending key in the file (e.g. environments.production.components.db). */
  path: KeyPath;
  /** What is wrong, without the location prefix. */
  message: string;
  /** What to change. */
  remedy: string;
  location?: ConfigLocation;
}

/** A mistake in cairn.yaml (code 'config'); `problems` lists every one found, the first is the message. */
export class ConfigError extends CairnError {
  readonly problems: ConfigProblem[];

  constructor(problems: ConfigProblem[], options?: { cause?: unknown }) {
    const first = problems[0];
    if (!first) throw new Error('ConfigError needs at least one problem');
    super('config', formatProblem(first), first.remedy, ExitCode.failure, options);
    this.name = 'ConfigError';
    this.problems = problems;
  }

  /** The key path of the first problem, as text. */
  get keyPath(): string {
    return formatKeyPath(this.problems[0]!.path);
  }

  /** The location of the first problem, when known. */
  get location(): ConfigLocation | undefined {
    return this.problems[0]!.location;
  }

  /** The same error with every problem that lacks a location given one by `locate`. */
  locatedWith(locate: (path: KeyPath) => { path: KeyPath; location: ConfigLocation } | undefined): ConfigError {
    return new ConfigError(
      this.problems.map((p) => {
        if (p.location) return p;
        const found = locate(p.path);
        return found ? { ...p, path: found.path, location: found.location } : p;
      }),
      { cause: this.cause },
    );
  }
}

/** "file:line:col: key.path: message" (parts that are unknown are left out). */
export function formatProblem(p: ConfigProblem): string {
  const where = p.location ? `${p.location.file}:${p.location.line}:${p.location.col}: ` : '';
  const key = p.path.length > 0 ? `${formatKeyPath(p.path)}: ` : '';
  return `${where}${key}${p.message}`;
}

/** A key path as a user would type it: components.db.sources[0].database. */
export function formatKeyPath(path: KeyPath): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else if (/^[A-Za-z_][A-Za-z0-9_-]*$/.test(part)) out += out === '' ? part : `.${part}`;
    else out += `[${JSON.stringify(part)}]`;
  }
  return out;
}

/** "a", "a or b", "a, b or c" — for listing what is allowed. */
export function listOr(items: readonly string[]): string {
  if (items.length <= 1) return items.join('');
  return `${items.slice(0, -1).join(', ')} or ${items[items.length - 1]}`;
}

/** The candidate closest to `word` when it is a plausible typo of it, else undefined. */
export function didYouMean(word: string, candidates: readonly string[]): string | undefined {
  const lower = word.toLowerCase();
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const d = c.toLowerCase() === lower ? 0 : editDistance(lower, c.toLowerCase());
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  // Allow about one typo per three letters, at least one.
  if (best !== undefined && bestDistance <= Math.max(1, Math.floor(word.length / 3))) return best;
  // A shortening ("prod" for "production") is a near miss too, when only one candidate fits.
  if (word.length >= 3) {
    const extended = [...candidates].filter((c) => c.toLowerCase().startsWith(lower));
    if (extended.length === 1) return extended[0];
  }
  return undefined;
}

/** Damerau-Levenshtein distance (adjacent swaps count as one edit). */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}
