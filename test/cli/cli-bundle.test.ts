/**
 * The build replaces dist/cli/main.js with an esbuild bundle of the command line, split into
 * chunks where main.ts imports lazily (scripts/bundle-cli.mjs), so that Node reads a few files at
 * start rather than about 350. Every test that spawns `tierguard` (the CLI tests, serve, the
 * real-cluster tests) runs this bundle; these check that it is one, and that each command still
 * loads only what it runs.
 */
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { builtImports, isNodeModule, packageOf } from '../helpers/built-imports.js';

const run = promisify(execFile);
const ROOT = path.resolve(import.meta.dirname, '..', '..');
const CLI_DIR = path.join(ROOT, 'dist', 'cli');
const MAIN = path.join(CLI_DIR, 'main.js');
const CLIENT_NODE = JSON.parse(readFileSync(path.join(ROOT, 'node_modules', '@kubernetes', 'client-node', 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
const PACKAGE = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };

const chunks = () => readdirSync(CLI_DIR).filter((name) => /^chunk-[A-Z0-9]+\.js$/.test(name));

/** main.js and every chunk it reaches through static imports: what any command loads before it runs. */
function staticClosure(): Set<string> {
  const seen = new Set<string>();
  const visit = (name: string): void => {
    if (seen.has(name)) return;
    seen.add(name);
    for (const spec of builtImports(path.join(CLI_DIR, name)).static) if (spec.startsWith('./')) visit(spec.slice(2));
  };
  visit('main.js');
  return seen;
}

describe('the built command line', () => {
  it("is one bundle: main.js and its chunks import only Node's modules, one another, and client-node's dependencies", () => {
    expect(readFileSync(MAIN, 'utf8').startsWith('#!/usr/bin/env node\n')).toBe(true);
    expect(chunks().length).toBeGreaterThan(0);
    const outside = ['main.js', ...chunks()].flatMap((name) => {
      const { static: eager, lazy } = builtImports(path.join(CLI_DIR, name));
      return [...eager, ...lazy]
        .filter((spec) => !isNodeModule(spec) && !/^\.\/chunk-[A-Z0-9]+\.js$/.test(spec) && !Object.hasOwn(CLIENT_NODE.dependencies, packageOf(spec)))
        .map((spec) => `${name}: ${spec}`);
    });
    // A module of dist/ or a dependency left as an import would load file by file again.
    expect(outside).toEqual([]);
  });

  it('loads the cluster code and serve only when a command runs them: none of it is imported statically from main.js', () => {
    const eager = staticClosure();
    expect(chunks().filter((name) => !eager.has(name))).not.toEqual([]);
    const holding = (marker: string) => chunks().filter((name) => readFileSync(path.join(CLI_DIR, name), 'utf8').includes(marker));
    // client-node's KubeConfig (the cluster code) and a log line of serve (src/cli/serve.ts) each live in a chunk loaded on demand.
    for (const marker of ['var KubeConfig = class', 'waiting for a policy set before accepting webhook connections']) {
      expect(holding(marker), marker).not.toEqual([]);
      expect(holding(marker).filter((name) => eager.has(name)), marker).toEqual([]);
    }
  });

  it('finds what it reads beside the package from its new place: its version and the embedded default guardrails', async () => {
    const version = await run(process.execPath, [MAIN, '--version'], { cwd: ROOT });
    expect(version.stdout.trim()).toBe(PACKAGE.version);
    // `check` without --config reads the embedded defaults (policies/default), found from import.meta.url.
    const manifests = path.join(ROOT, 'examples', 'manifests');
    const embedded = await run(process.execPath, [MAIN, 'check', '-f', manifests], { cwd: ROOT });
    const given = await run(process.execPath, [MAIN, 'check', '--config', path.join(ROOT, 'policies', 'default'), '-f', manifests], { cwd: ROOT });
    expect(embedded.stdout).toContain('guardrail recommended-app-name');
    expect(embedded.stdout).toBe(given.stdout);
  });
});
