/**
 * The build bundles client-node's own modules into dist/cluster/client-node.js
 * (scripts/bundle-client-node.mjs), so that `serve` with a cluster does not load the library's
 * 2,600 files one by one at start. The built module must still be the library: its KubeConfig
 * reads a kubeconfig as client-node does. The real-cluster tests run `serve` from dist, so they
 * talk to a real API server through this module.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { builtImports, isNodeModule, packageOf } from '../helpers/built-imports.js';

const run = promisify(execFile);
const ROOT = path.resolve(import.meta.dirname, '..', '..');
const BUILT = path.join(ROOT, 'dist', 'cluster', 'client-node.js');
const LIBRARY = JSON.parse(readFileSync(path.join(ROOT, 'node_modules', '@kubernetes', 'client-node', 'package.json'), 'utf8')) as { dependencies: Record<string, string> };

const KUBECONFIG = `apiVersion: v1
kind: Config
clusters:
- name: test
  cluster: {server: "https://127.0.0.1:6443", certificate-authority-data: ""}
users:
- name: admin
  user: {token: secret-token}
contexts:
- name: test
  context: {cluster: test, user: admin, namespace: payments}
current-context: test
`;

describe('the built client-node module', () => {
  it("holds the library's own modules and imports only Node's and the library's dependencies", () => {
    const text = readFileSync(BUILT, 'utf8');
    const { static: eager, lazy } = builtImports(BUILT);
    const imported = [...eager, ...lazy];
    expect(imported.length).toBeGreaterThan(0);
    const outside = imported.filter((name) => !isNodeModule(name) && !Object.hasOwn(LIBRARY.dependencies, packageOf(name)));
    expect(outside).toEqual([]);
    expect(text).toMatch(/^export \{\s*KubeConfig,\s*Watch\s*\};$/m);
  });

  it('reads a kubeconfig as client-node does, in a fresh process', async () => {
    const script = `
      const { KubeConfig, Watch } = await import(${JSON.stringify(pathToFileURL(BUILT).href)});
      const config = new KubeConfig();
      config.loadFromString(${JSON.stringify(KUBECONFIG)});
      const options = {};
      await config.applyToHTTPSOptions(options);
      console.log(JSON.stringify({ server: config.getCurrentCluster().server, namespace: config.getContextObject(config.getCurrentContext()).namespace, authorization: options.headers.Authorization, watch: typeof new Watch(config).watch }));
    `;
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT });
    expect(JSON.parse(stdout)).toEqual({ server: 'https://127.0.0.1:6443', namespace: 'payments', authorization: 'Bearer secret-token', watch: 'function' });
  });
});
