import { CairnError } from '../errors.js';
import { durationMs, type HealthConfig } from './config.js';
import { runCommand } from './runCommands.js';

/** Runs a component's health check with its retries; throws the last failure when it never passes. */
export async function checkHealth(component: string, health: HealthConfig): Promise<void> {
  const tries = health.retries + 1;
  const interval = durationMs(health.interval);
  const timeout = durationMs(health.timeout);
  let last: unknown;
  for (let i = 0; i < tries; i++) {
    if (i > 0) await new Promise((r) => setTimeout(r, interval));
    try {
      if (health.command !== undefined) {
        const cmd = typeof health.command === 'string' ? { run: health.command, timeout: timeout / 1000 } : { timeout: timeout / 1000, ...health.command };
        await runCommand(cmd, `health check of ${component}`);
      } else {
        const res = await fetch(health.url!, { signal: AbortSignal.timeout(timeout) });
        if (res.status !== health.expect_status) throw new Error(`${health.url} answered ${res.status}, expected ${health.expect_status}`);
      }
      return;
    } catch (err) {
      last = err;
    }
  }
  const why = last instanceof Error ? last.message : String(last);
  throw new CairnError('unhealthy', `component ${component} is not healthy after ${tries} tries: ${why}`, `Check the service of ${component} (its logs, or run its health check by hand).`);
}
