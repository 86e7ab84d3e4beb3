import { Worker, type ResourceLimits } from 'node:worker_threads';

/**
 * Starts the worker module `name` (e.g. 'packWorker') that lives next to the
 * module at `from` (pass import.meta.url). Running from TypeScript sources (the
 * tests run through tsx), tsx is registered inside the worker first; from the
 * build, the compiled .js file is loaded directly.
 */
export function startWorker(from: string, name: string, resourceLimits?: ResourceLimits): Worker {
  const options = resourceLimits ? { resourceLimits } : {};
  if (from.endsWith('.ts')) {
    const entry = new URL(`./${name}.ts`, from).href;
    const tsx = import.meta.resolve('tsx/esm/api');
    const boot = `const { workerData } = require('node:worker_threads');
import(workerData.tsx).then((m) => { m.register(); return import(workerData.entry); });`;
    return new Worker(boot, { ...options, eval: true, workerData: { tsx, entry } });
  }
  return new Worker(new URL(`./${name}.js`, from), options);
}
