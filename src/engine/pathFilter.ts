// Include/exclude patterns for restore, with restic's matching rules
// (internal/filter): a pattern is split into path components and matches a
// path when it matches a contiguous run of the path's components — anywhere
// for a relative pattern, from the start for a pattern beginning with `/`.
// So a pattern that matches a directory also matches everything below it.
// Components are matched like Go's filepath.Match (`*`, `?`, `[…]`); `**`
// spans any number of components.
import picomatch from 'picomatch';

const globOptions: picomatch.PicomatchOptions = { dot: true, nobrace: true, noextglob: true };

interface CompiledPattern {
  source: string;
  rooted: boolean;
  /** Matches a whole `/`-joined run of components. */
  whole: picomatch.Matcher;
  /** Per-component matchers (`null` for `**`), to decide whether a directory may contain matches. */
  parts: (picomatch.Matcher | null)[];
}

function compile(pattern: string): CompiledPattern | undefined {
  const cleaned = pattern.trim().replace(/\/+/g, '/').replace(/(.)\/$/, '$1');
  if (cleaned === '' || cleaned === '/') return undefined;
  const rooted = cleaned.startsWith('/');
  const body = rooted ? cleaned.slice(1) : cleaned;
  const parts = body.split('/').map((p) => (p === '**' ? null : picomatch(p, globOptions)));
  return { source: pattern, rooted, whole: picomatch(body, globOptions), parts };
}

/** Where the parent directory stood; the root of a restore starts with `rootFilterState`. */
export interface FilterState {
  /** An include pattern matched this directory or one above it. */
  included: boolean;
}

/** The state of the restore root: nothing matched yet. */
export const rootFilterState: FilterState = { included: false };

/** What to do with one entry. */
export interface FilterDecision {
  /** Restore this entry itself. */
  selected: boolean;
  /** For directories: look inside (something below may be selected). */
  descend: boolean;
  /** The state to hand to this entry's children. */
  state: FilterState;
}

/**
 * Decides which entries of a tree are restored. Paths are the entry's path
 * below the restore root, written `/a/b/c`. An excluded directory is skipped
 * with everything below it. With include patterns, an entry is restored when
 * a pattern matches it or a directory above it, and directories that may hold
 * matches are entered (and created as needed).
 */
export class PathFilter {
  private readonly includes: CompiledPattern[];
  private readonly excludes: CompiledPattern[];

  constructor(opts: { include?: readonly string[]; exclude?: readonly string[] } = {}) {
    this.includes = (opts.include ?? []).map(compile).filter((p): p is CompiledPattern => p !== undefined);
    this.excludes = (opts.exclude ?? []).map(compile).filter((p): p is CompiledPattern => p !== undefined);
  }

  /** True when no pattern was given (everything is restored). */
  get empty(): boolean {
    return this.includes.length === 0 && this.excludes.length === 0;
  }

  /** Decides for the entry at `path` (components already split: `parts`), given its parent's state. */
  decide(parts: readonly string[], isDir: boolean, parent: FilterState): FilterDecision {
    if (this.excludes.length > 0 && anyMatchesEnd(this.excludes, parts)) {
      return { selected: false, descend: false, state: parent };
    }
    if (this.includes.length === 0 || parent.included) return { selected: true, descend: isDir, state: parent };
    if (anyMatchesEnd(this.includes, parts)) return { selected: true, descend: isDir, state: { included: true } };
    const descend = isDir && this.includes.some((p) => childMayMatch(p, parts));
    return { selected: false, descend, state: parent };
  }

  /** Convenience for one-off questions: is `path` (`/a/b`) selected, ignoring what its parents decided? */
  matches(path: string, isDir = false): boolean {
    const parts = path.split('/').filter(Boolean);
    let state = rootFilterState;
    for (let i = 1; i <= parts.length; i++) {
      const last = i === parts.length;
      const d = this.decide(parts.slice(0, i), last ? isDir : true, state);
      if (last) return d.selected;
      if (!d.selected && !d.descend) return false;
      state = d.state;
    }
    return false;
  }
}

/**
 * True when a pattern matches a run of components ending with the last one.
 * Runs ending earlier were tested when the parent directories were visited
 * (and would have excluded or included them already).
 */
function anyMatchesEnd(patterns: readonly CompiledPattern[], parts: readonly string[]): boolean {
  let suffix = '';
  for (let i = parts.length - 1; i >= 0; i--) {
    suffix = i === parts.length - 1 ? parts[i]! : parts[i] + '/' + suffix;
    for (const p of patterns) {
      if (p.rooted ? i === 0 && p.whole(suffix) : p.whole(suffix)) return true;
    }
  }
  return false;
}

/** Whether something below directory `parts` may match (restic's ChildMatch). */
function childMayMatch(p: CompiledPattern, parts: readonly string[]): boolean {
  if (!p.rooted) return true;
  for (let i = 0; i < parts.length; i++) {
    if (i >= p.parts.length) return false;
    const m = p.parts[i];
    if (m === null) return true;
    if (!m!(parts[i]!)) return false;
  }
  return parts.length < p.parts.length;
}
