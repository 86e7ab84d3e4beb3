import { readFileSync } from 'node:fs';
import picomatch from 'picomatch';
import { CairnError } from '../errors.js';

/**
 * restic-style exclude patterns for backup: a pattern starting with `/` is
 * matched against the whole absolute path; any other pattern matches any
 * trailing run of path components (so `*.tmp` matches a file anywhere and
 * `cache/*` any file directly inside a folder named cache). `**` spans folders.
 */
export class ExcludeFilter {
  private readonly anchored: picomatch.Matcher[] = [];
  private readonly floating: picomatch.Matcher[] = [];
  readonly patterns: string[];

  constructor(patterns: string[]) {
    this.patterns = patterns.filter((p) => p.trim() !== '');
    for (const p of this.patterns) {
      const m = picomatch(p.replace(/\/+$/, ''), { dot: true });
      (p.startsWith('/') ? this.anchored : this.floating).push(m);
    }
  }

  /** Reads patterns from --exclude-file files: one per line, `#` comments and blank lines ignored. */
  static readPatternFiles(files: string[]): string[] {
    const out: string[] = [];
    for (const f of files) {
      let text: string;
      try {
        text = readFileSync(f, 'utf8');
      } catch {
        throw new CairnError('bad-exclude-file', `cannot read exclude file ${f}`, 'Check the path given with --exclude-file.');
      }
      for (const line of text.split('\n')) {
        const t = line.trim();
        if (t && !t.startsWith('#')) out.push(t);
      }
    }
    return out;
  }

  get empty(): boolean {
    return this.patterns.length === 0;
  }

  /** True when the absolute path is excluded. */
  excludes(absPath: string): boolean {
    if (this.empty) return false;
    for (const m of this.anchored) if (m(absPath)) return true;
    if (this.floating.length === 0) return false;
    const parts = absPath.split('/').filter(Boolean);
    for (let i = parts.length - 1; i >= 0; i--) {
      const suffix = parts.slice(i).join('/');
      for (const m of this.floating) if (m(suffix)) return true;
    }
    return false;
  }
}
