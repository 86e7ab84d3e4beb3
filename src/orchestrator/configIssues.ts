// Turns zod's validation issues into config problems a homelab user can act
// on: what is wrong, in words, and what is allowed there (valid keys, source
// types, the field's description), with a "did you mean" for near-misses.
import { z } from 'zod';
import { type ConfigProblem, didYouMean, formatKeyPath, type KeyPath, listOr } from './configError.js';

/** A problem plus whether it points at a key (unknown keys, bad names) or at a value. */
export interface IssueProblem {
  problem: ConfigProblem;
  at: 'key' | 'value';
}

type Issue = z.core.$ZodIssue;

const LABELS: Record<string, string> = {
  CairnConfig: 'the top level of cairn.yaml',
  Repository: 'a repository',
  Component: 'a component',
  Environment: 'an environment',
  Retention: 'retention',
  Hooks: 'hooks',
  Health: 'a health check',
  Command: 'a command',
  FilesSource: 'a files source',
  PostgresSource: 'a postgres source',
  MysqlSource: 'a mysql source',
  MariadbSource: 'a mariadb source',
  SqliteSource: 'an sqlite source',
  RedisSource: 'a redis source',
  CommandSource: 'a command source',
};

const EXPECTED: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  int: 'a whole number',
  boolean: 'true or false',
  object: 'a mapping (key: value lines)',
  record: 'a mapping (name: settings lines)',
  array: 'a list',
};

/**
 * Problems for zod `issues` found validating `data` against `root`. `prefix`
 * is where `data` sits in the file (e.g. ['environments'] when only that
 * section was validated).
 */
export function problemsFromIssues(issues: readonly Issue[], root: z.ZodType, data: unknown, prefix: KeyPath = []): IssueProblem[] {
  return collect(issues, root, data, [], prefix);
}

function collect(issues: readonly Issue[], root: z.ZodType, data: unknown, base: KeyPath, prefix: KeyPath): IssueProblem[] {
  const out: IssueProblem[] = [];
  for (const issue of issues) {
    const at = [...base, ...(issue.path as KeyPath)];
    out.push(...problemsFromIssue(issue, root, data, at, prefix));
  }
  // "missing database" next to "unknown key databse" is one mistake, not two.
  const withUnknownKeys = new Set(out.filter((p) => p.at === 'key' && p.problem.message.startsWith('unknown key')).map((p) => formatKeyPath(p.problem.path.slice(0, -1))));
  return out.filter((p) => !(p.problem.message.startsWith('missing required key') && withUnknownKeys.has(formatKeyPath(p.problem.path.slice(0, -1)))));
}

/** Problems for one issue at `at` (relative to `data`); the paths returned start with `prefix`. */
function problemsFromIssue(issue: Issue, root: z.ZodType, data: unknown, at: KeyPath, prefix: KeyPath): IssueProblem[] {
  const here = lookup(root, data, at);
  const path = [...prefix, ...at];
  const key = path[path.length - 1];
  const parentKey = path[path.length - 2];
  const keyName = typeof key === 'string' ? key : `${typeof parentKey === 'string' ? parentKey : 'entry '}[${String(key)}]`;
  const about = here.description ? ` ${keyName}: ${here.description}.` : '';
  switch (issue.code) {
    case 'unrecognized_keys': {
      const valid = here.schema instanceof z.ZodObject ? Object.keys(here.schema.shape as object) : [];
      const label = here.label ? ` of ${here.label}` : ' here';
      return issue.keys.map((unknown) => {
        const guess = didYouMean(unknown, valid);
        const list = `Valid keys${label}: ${valid.join(', ')}.`;
        return {
          at: 'key' as const,
          problem: {
            path: [...path, unknown],
            message: `unknown key "${unknown}"${here.label ? ` for ${here.label}` : ''}`,
            remedy: guess ? `Did you mean "${guess}"? ${list}` : `Remove it or rename it. ${list}`,
          },
        };
      });
    }
    case 'invalid_type': {
      if (here.value === undefined) {
        const parent = path.slice(0, -1);
        return [
          {
            at: 'value',
            problem: {
              path,
              message: `missing required key "${keyName}"${here.parentLabel ? ` for ${here.parentLabel}` : ''}`,
              remedy: `Add ${keyName}: to ${formatKeyPath(parent) || 'the top level'}.${about}`,
            },
          },
        ];
      }
      const expected = here.schema instanceof z.ZodRecord ? EXPECTED.record! : (EXPECTED[issue.expected] ?? issue.expected);
      return [
        {
          at: 'value',
          problem: { path, message: `expected ${expected}, got ${typeof here.value === 'string' ? 'the string ' : typeof here.value === 'number' ? 'the number ' : ''}${describeValue(here.value)}`, remedy: `Set ${keyName} to ${expected}.${about}` },
        },
      ];
    }
    case 'invalid_union': {
      if ('note' in issue && issue.note === 'No matching discriminator') return [discriminatorProblem(issue, here, path)];
      // Pick the alternative the user evidently meant (the one that got past its
      // top-level type check) and report its problems instead of "invalid input".
      const branches = (issue.errors ?? []) as Issue[][];
      const meant = branches.find((errors) => errors.some((e) => e.path.length > 0 || e.code !== 'invalid_type'));
      if (meant) return collect(meant, root, data, at, prefix);
      return [
        {
          at: 'value',
          problem: { path, message: `expected ${here.description ?? 'something else'}, got ${describeValue(here.value)}`, remedy: `Set ${keyName} to ${here.description ?? 'an allowed value'}.` },
        },
      ];
    }
    case 'invalid_key': {
      const inner = (issue.issues[0]?.message ?? 'is not allowed').replace(/^Invalid.*$/, 'is not allowed');
      return [{ at: 'key', problem: { path, message: `"${String(key)}" is not a valid name: it ${inner}`, remedy: `Rename it: names ${inner.replace(/^must /, 'must ')}; they become folder names and tags in snapshots.` } }];
    }
    case 'invalid_value': {
      const allowed = issue.values.map((v) => JSON.stringify(v));
      return [{ at: 'value', problem: { path, message: `${describeValue(here.value)} is not allowed`, remedy: `Set ${keyName} to ${listOr(allowed)}.${about}` } }];
    }
    case 'too_small':
    case 'too_big': {
      const limit = Number(issue.code === 'too_small' ? issue.minimum : issue.maximum);
      let rule: string;
      if (issue.origin === 'array') rule = issue.code === 'too_small' ? `must list at least ${limit} ${limit === 1 ? 'entry' : 'entries'}` : `must list at most ${limit} entries`;
      else if (issue.origin === 'string') rule = issue.code === 'too_small' ? 'must not be empty' : `must be at most ${limit} characters`;
      else rule = issue.code === 'too_small' ? `must be at least ${limit}` : `must be at most ${limit}`;
      return [{ at: 'value', problem: { path, message: `${describeValue(here.value)} is not allowed: ${keyName} ${rule}`, remedy: `Change ${keyName}: it ${rule}.${about}` } }];
    }
    case 'invalid_format': {
      const rule = issue.format === 'url' ? 'must be a URL like http://127.0.0.1:8080/health' : issue.message;
      return [{ at: 'value', problem: { path, message: `${describeValue(here.value)} is not allowed: ${keyName} ${rule}`, remedy: `Change ${keyName}: it ${rule}.${about}` } }];
    }
    case 'custom': {
      // Rules written in config.ts: "must ..." about a value, or a sentence
      // about a mapping with its own remedy in params.
      const remedy = (issue.params as { remedy?: string } | undefined)?.remedy;
      const isValue = here.value === null || typeof here.value !== 'object';
      const message = isValue ? `${describeValue(here.value)} is not allowed: ${keyName} ${issue.message}` : issue.message;
      return [{ at: 'value', problem: { path, message, remedy: remedy ?? `Change ${keyName}: it ${issue.message}.${about}` } }];
    }
    default:
      return [{ at: 'value', problem: { path, message: issue.message, remedy: `Fix ${keyName}.${about}` } }];
  }
}

function discriminatorProblem(issue: Issue & { code: 'invalid_union' }, here: Lookup, path: KeyPath): IssueProblem {
  const options = ((issue as { options?: unknown[] }).options ?? []).map(String);
  const given = here.value;
  const isSource = path.includes('sources');
  const kinds = `${isSource ? 'Source types' : 'Valid types'}: ${options.join(', ')}.`;
  if (given === undefined) {
    return { at: 'value', problem: { path, message: `missing required key "type"${isSource ? ' for a source' : ''}`, remedy: `Add type: saying what kind of thing this is. ${kinds}` } };
  }
  const guess = typeof given === 'string' ? didYouMean(given, options) : undefined;
  return {
    at: 'value',
    problem: {
      path,
      message: `unknown ${isSource ? 'source ' : ''}type ${describeValue(given)}`,
      remedy: guess ? `Did you mean "${guess}"? ${kinds}` : `Use one of the known types. ${kinds}`,
    },
  };
}

/** A value as an error message names it. */
function describeValue(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'an empty value';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  if (typeof v === 'string') return JSON.stringify(v.length > 60 ? `${v.slice(0, 57)}...` : v);
  return String(v);
}

interface Lookup {
  /** The schema at the path with optional/default wrappers removed (undefined when the path leaves the schema). */
  schema: z.ZodType | undefined;
  description: string | undefined;
  label: string | undefined;
  parentLabel: string | undefined;
  value: unknown;
}

/** Walks schema and data together along `path`, choosing union members the way zod does. */
function lookup(root: z.ZodType, data: unknown, path: KeyPath): Lookup {
  let { schema, description } = unwrap(root);
  let value: unknown = data;
  let parentLabel: string | undefined;
  for (const part of path) {
    parentLabel = labelOf(schema, value);
    const chosen = chooseMember(schema, value);
    let next: z.ZodType | undefined;
    if (chosen instanceof z.ZodObject) next = (chosen.shape as Record<string, z.ZodType>)[String(part)];
    else if (chosen instanceof z.ZodRecord) next = chosen.valueType as z.ZodType;
    else if (chosen instanceof z.ZodArray) next = chosen.element as z.ZodType;
    value = value !== null && typeof value === 'object' ? (value as Record<string | number, unknown>)[part] : undefined;
    if (!next) return { schema: undefined, description: undefined, label: undefined, parentLabel, value };
    ({ schema, description } = unwrap(next));
  }
  const member = chooseMember(schema, value);
  return { schema: member, description, label: labelOf(schema, value), parentLabel, value };
}

function unwrap(schema: z.ZodType): { schema: z.ZodType; description: string | undefined } {
  let s = schema;
  let description = s.description;
  while (s instanceof z.ZodOptional || s instanceof z.ZodDefault || s instanceof z.ZodNullable) {
    s = s.unwrap() as z.ZodType;
    description ??= s.description;
  }
  return { schema: s, description };
}

/** For a union, the member `value` belongs to (by discriminator, else by being a mapping); else the schema itself. */
function chooseMember(schema: z.ZodType | undefined, value: unknown): z.ZodType | undefined {
  if (!(schema instanceof z.ZodUnion)) return schema;
  const options = schema.options as z.ZodType[];
  const discriminator = (schema._zod.def as { discriminator?: string }).discriminator;
  const isObject = value !== null && typeof value === 'object' && !Array.isArray(value);
  if (discriminator && isObject) {
    const tag = (value as Record<string, unknown>)[discriminator];
    return options.find((o) => o instanceof z.ZodObject && (o.shape as Record<string, z.ZodType>)[discriminator]?._zod.values?.has(tag as string)) ?? schema;
  }
  return options.find((o) => (o instanceof z.ZodObject) === isObject) ?? schema;
}

function labelOf(schema: z.ZodType | undefined, value: unknown): string | undefined {
  const member = chooseMember(schema, value);
  const id = schemaId(member) ?? schemaId(schema);
  if (id) return LABELS[id];
  const overrides = member && /^(\w+) overrides$/.exec(z.globalRegistry.get(member)?.title ?? '')?.[1];
  return overrides && LABELS[overrides] ? `${LABELS[overrides]} (environment overrides)` : undefined;
}

/** The metadata id of a schema or of the schema it was cloned from (`.describe()` clones). */
function schemaId(schema: z.ZodType | undefined): string | undefined {
  for (let s: z.core.$ZodType | undefined = schema; s; s = s._zod.parent) {
    const id = z.globalRegistry.get(s)?.id;
    if (id) return id;
  }
  return undefined;
}
