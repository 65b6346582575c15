/**
 * `describe` for suites that need Prometheus's own tools (`promtool`, `prometheus`; Debian's
 * `prometheus` package, 2.42): titled `[prometheus] …`, which .ci/run counts as it counts the
 * cluster suites (CI installs the package and fails when such a test did not run), and skipped
 * with the reason in its title when `promtool` is not on the PATH.
 */
import { accessSync, constants } from 'node:fs';
import path from 'node:path';
import { describe } from 'vitest';

export const PROMETHEUS_SUITE_PREFIX = '[prometheus]';

/** The full path of `name` on the PATH, or undefined. */
function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const file = path.join(dir, name);
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // not here
    }
  }
  return undefined;
}

export const PROMTOOL = onPath('promtool');
export const PROMETHEUS = onPath('prometheus');

/** `describe` when promtool and prometheus are installed, otherwise `describe.skip` saying why. */
export function describePrometheus(name: string, fn: () => void): void {
  if (PROMTOOL && PROMETHEUS) describe(`${PROMETHEUS_SUITE_PREFIX} ${name}`, fn);
  else describe.skip(`${PROMETHEUS_SUITE_PREFIX} ${name} (skipped: promtool and prometheus are not on the PATH; apt-get install prometheus)`, fn);
}
