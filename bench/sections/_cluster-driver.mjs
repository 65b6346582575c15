// Runs a real-cluster bench driver (test/bench/*.ts, sharing the test harness) with vite-node and
// returns the JSON of its last stdout line. Not a section itself (its name starts with `_`).
import { spawn } from 'node:child_process';
import path from 'node:path';

/** What a section returns when KUBEBUILDER_ASSETS is not set. */
export function skipped(title, name) {
  return { title, rows: [], summary: [`${name}: skipped (KUBEBUILDER_ASSETS is not set; export KUBEBUILDER_ASSETS=$(../shared/kube/setup.sh))`] };
}

/** `env`: variables for the driver on top of the bench's own. */
export async function runDriver(ctx, driverFile, timeoutSeconds, env = {}) {
  const driver = path.join(ctx.repoRoot, 'test', 'bench', driverFile);
  const viteNode = path.join(ctx.repoRoot, 'node_modules', '.bin', 'vite-node');
  const output = await new Promise((resolve, reject) => {
    const child = spawn(viteNode, [driver], { cwd: ctx.repoRoot, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => { stdout += chunk; });
    child.stderr.on('data', (chunk) => { stderr += chunk; });
    const timer = setTimeout(() => child.kill('SIGTERM'), timeoutSeconds * 1000);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(stdout);
      else reject(new Error(`${path.relative(ctx.repoRoot, driver)} exited ${code}: ${stderr.slice(-2000)}`));
    });
  });
  return JSON.parse(output.trim().split('\n').pop());
}

/** The columns both drivers report per target: latencies without and with the webhooks, and what they add. */
export function latencyColumns(row) {
  return {
    requests: row.requests,
    withoutP50ms: row.without.p50,
    withP50ms: row.with.p50,
    addedP50ms: row.addedP50,
    withoutP99ms: row.without.p99,
    withP99ms: row.with.p99,
    addedP99ms: row.addedP99,
  };
}
