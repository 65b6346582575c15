#!/usr/bin/env node
// Run by `npm run build` after tsc: replaces dist/cluster/client-node.js (KubeConfig and Watch,
// re-exported from @kubernetes/client-node) with one file holding the library's own modules, so
// that `serve` with a cluster does not load about 2,600 files at start (see
// src/cluster/client-node.ts). The library's dependencies are left as imports and load from
// node_modules as before.
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const module = path.join(root, 'dist', 'cluster', 'client-node.js');
const library = JSON.parse(readFileSync(path.join(root, 'node_modules', '@kubernetes', 'client-node', 'package.json'), 'utf8'));

try {
  await build({
    entryPoints: [module],
    outfile: module,
    allowOverwrite: true,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    external: Object.keys(library.dependencies ?? {}),
    logLevel: 'warning',
  });
} catch (error) {
  console.error(`bundle-client-node: cannot bundle ${path.relative(root, module)} (run tsc first): ${error.message}`);
  process.exit(1);
}
// tsc's source map describes the two-line module the bundle replaced.
rmSync(`${module}.map`, { force: true });
