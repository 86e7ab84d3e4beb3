import os from 'node:os';
import type { Repository } from '../repo/repository.js';
import type { ComponentConfig } from './config.js';
import type { LoadedConfig } from './loadConfig.js';
import { CairnError } from '../errors.js';

/** Everything a job needs: the checked config, the default repository, and where to report. */
export interface OrchestratorContext {
  loaded: LoadedConfig;
  repo: Repository;
  /** One line of progress for a person (the CLI prints it; the daemon stores it). */
  log: (line: string) => void;
}

/** The host name recorded in component snapshots. */
export function contextHost(ctx: OrchestratorContext): string {
  return ctx.loaded.config.host ?? os.hostname();
}

/** A component's config, or a clear error naming the valid ones. */
export function componentConfig(ctx: OrchestratorContext, name: string): ComponentConfig {
  const c = ctx.loaded.config.components[name];
  if (!c) {
    const names = Object.keys(ctx.loaded.config.components);
    throw new CairnError('unknown-component', `no component named ${name} in ${ctx.loaded.path}`, names.length ? `Use one of: ${names.join(', ')}.` : 'Add components to cairn.yaml first.');
  }
  return c;
}
