// Which component needs which: backup and recovery walk dependencies first,
// teardown walks them last. Orders are stable (ties keep config order) so the
// same config always runs in the same order.
import { ConfigError, didYouMean, formatKeyPath, type KeyPath } from './configError.js';
import { CairnError } from '../errors.js';

/** The part of a component the graph needs. */
export interface GraphComponent {
  depends_on?: readonly string[];
}

/** What `select` returns: the chosen components in order, and what they lean on that was not chosen. */
export interface ComponentSelection {
  /** The selected components, in dependency order (dependencies first). */
  components: string[];
  /** Per selected component, its transitive dependencies that are not selected (only components that have some). */
  unselectedDependencies: Array<{ component: string; missing: string[] }>;
  /** Per selected component, the components depending on it (transitively) that are not selected. */
  unselectedDependents: Array<{ component: string; missing: string[] }>;
}

/** The dependency graph of a config's components. */
export class ComponentGraph {
  /** Component names in config order. */
  readonly names: readonly string[];
  private readonly index: Map<string, number>;
  private readonly deps: Map<string, string[]>;
  private readonly order: string[];

  /** Use buildComponentGraph, which checks the graph. */
  constructor(names: readonly string[], deps: Map<string, string[]>, order: string[]) {
    this.names = names;
    this.index = new Map(names.map((n, i) => [n, i]));
    this.deps = deps;
    this.order = order;
  }

  /** True when a component of that name exists. */
  has(name: string): boolean {
    return this.index.has(name);
  }

  /** The components `name` depends on directly, as written (duplicates removed). */
  directDependencies(name: string): string[] {
    return [...this.deps.get(this.known(name))!];
  }

  /** Everything `name` depends on, directly or through others, in dependency order. */
  dependenciesOf(name: string): string[] {
    const found = new Set<string>();
    const visit = (n: string): void => {
      for (const d of this.deps.get(n)!) {
        if (!found.has(d)) {
          found.add(d);
          visit(d);
        }
      }
    };
    visit(this.known(name));
    return this.order.filter((n) => found.has(n));
  }

  /** Everything that depends on `name`, directly or through others, in dependency order. */
  dependentsOf(name: string): string[] {
    const target = this.known(name);
    return this.order.filter((n) => n !== target && this.dependenciesOf(n).includes(target));
  }

  /** Backup order: dependencies before the components needing them; ties in config order. All components, or only `names`. */
  backupOrder(names?: Iterable<string>): string[] {
    return this.restrict(this.order, names);
  }

  /** Recovery order: the same as backup order (a database comes back before the app using it). */
  recoverOrder(names?: Iterable<string>): string[] {
    return this.restrict(this.order, names);
  }

  /** Teardown order: the reverse of recovery order (the app goes before its database). */
  teardownOrder(names?: Iterable<string>): string[] {
    return this.restrict([...this.order].reverse(), names);
  }

  /**
   * The components named (e.g. by repeated `--component`), in dependency
   * order; none named means all. Dependencies are never added silently: the
   * result says which ones were left out so the caller can warn or refuse.
   */
  select(names?: readonly string[]): ComponentSelection {
    const chosen = names === undefined || names.length === 0 ? new Set(this.names) : new Set(names.map((n) => this.known(n)));
    const components = this.order.filter((n) => chosen.has(n));
    const unselectedDependencies: ComponentSelection['unselectedDependencies'] = [];
    const unselectedDependents: ComponentSelection['unselectedDependents'] = [];
    for (const c of components) {
      const missingDeps = this.dependenciesOf(c).filter((d) => !chosen.has(d));
      if (missingDeps.length > 0) unselectedDependencies.push({ component: c, missing: missingDeps });
      const missingDependents = this.dependentsOf(c).filter((d) => !chosen.has(d));
      if (missingDependents.length > 0) unselectedDependents.push({ component: c, missing: missingDependents });
    }
    return { components, unselectedDependencies, unselectedDependents };
  }

  private restrict(order: string[], names?: Iterable<string>): string[] {
    if (names === undefined) return [...order];
    const wanted = new Set([...names].map((n) => this.known(n)));
    return order.filter((n) => wanted.has(n));
  }

  /** `name` when it exists, else an error listing the components there are. */
  private known(name: string): string {
    if (this.index.has(name)) return name;
    const guess = didYouMean(name, this.names);
    const list = this.names.length > 0 ? `Components: ${this.names.join(', ')}.` : 'cairn.yaml defines no components yet.';
    throw new CairnError('config', `unknown component "${name}"`, guess ? `Did you mean "${guess}"? ${list}` : `Name one defined under components: in cairn.yaml. ${list}`);
  }
}

/**
 * Checks and orders `components` (a mapping in config order). Unknown
 * dependencies and cycles are ConfigErrors naming the depends_on entry at
 * fault (components.web.depends_on[1]); the caller adds file positions.
 */
export function buildComponentGraph(components: Readonly<Record<string, GraphComponent>>): ComponentGraph {
  const names = Object.keys(components);
  const index = new Map(names.map((n, i) => [n, i]));
  const deps = new Map<string, string[]>();
  for (const name of names) {
    const list = components[name]!.depends_on ?? [];
    list.forEach((dep, i) => {
      if (index.has(dep)) return;
      const guess = didYouMean(dep, names.filter((n) => n !== name));
      const defined = `Defined components: ${names.join(', ')}.`;
      throw new ConfigError([
        {
          path: ['components', name, 'depends_on', i],
          message: `component "${name}" depends on "${dep}", which is not defined`,
          remedy: guess ? `Did you mean "${guess}"? ${defined}` : `Define ${dep} under components:, or remove it from depends_on. ${defined}`,
        },
      ]);
    });
    deps.set(name, [...new Set(list)]);
  }

  // Kahn's algorithm, always taking the earliest ready component in config order.
  const order: string[] = [];
  const done = new Set<string>();
  while (order.length < names.length) {
    const next = names.find((n) => !done.has(n) && deps.get(n)!.every((d) => done.has(d)));
    if (next === undefined) throw cycleError(names, deps, done, components);
    order.push(next);
    done.add(next);
  }
  return new ComponentGraph(names, deps, order);
}

function cycleError(names: string[], deps: Map<string, string[]>, done: Set<string>, components: Readonly<Record<string, GraphComponent>>): ConfigError {
  // Every component left waits on another one left, so following the first
  // such dependency from any of them must come round to one seen before.
  const left = names.filter((n) => !done.has(n));
  const walk: string[] = [];
  let at = left[0]!;
  while (!walk.includes(at)) {
    walk.push(at);
    at = deps.get(at)!.find((d) => !done.has(d))!;
  }
  let cycle = walk.slice(walk.indexOf(at));
  // Start the cycle at the component defined first, so the message is stable.
  const first = cycle.reduce((a, b) => (names.indexOf(b) < names.indexOf(a) ? b : a));
  const start = cycle.indexOf(first);
  cycle = [...cycle.slice(start), ...cycle.slice(0, start)];
  const edges: KeyPath[] = cycle.map((from, i) => {
    const to = cycle[(i + 1) % cycle.length]!;
    return ['components', from, 'depends_on', (components[from]!.depends_on ?? []).indexOf(to)];
  });
  const shown = [...cycle, cycle[0]].join(' → ');
  return new ConfigError([
    {
      path: edges[0]!,
      message: `dependency cycle: ${shown} (each depends on the next)`,
      remedy: `Break the cycle by removing one of these depends_on entries: ${edges.map((e, i) => `${formatKeyPath(e)} (${cycle[(i + 1) % cycle.length]})`).join(', ')}.`,
    },
  ]);
}
