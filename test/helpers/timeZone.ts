/** Runs `fn` with this process's local zone set to `tz` (Node re-reads TZ when it changes). */
export function inZone<T>(tz: string, fn: () => T): T {
  const old = process.env['TZ'];
  process.env['TZ'] = tz;
  try {
    return fn();
  } finally {
    if (old === undefined) delete process.env['TZ'];
    else process.env['TZ'] = old;
  }
}
