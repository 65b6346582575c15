#!/usr/bin/env node
// Run by `npm run build` after tsc and scripts/bundle-client-node.mjs: replaces dist/cli/main.js,
// the command line, with an esbuild bundle of it and of what it imports (tierguard's modules and
// its dependencies), split where main.ts imports lazily (serve, the cluster code, audit, test,
// certs) into dist/cli/chunk-*.js, so that each command loads only what it runs. `serve` from
// files then opens 14 files at start instead of about 350, and is ready about 0.25 s sooner with the
// bench's realistic set (docs/development.md, "Kept (ninth session): the command line bundled").
// client-node's dependencies stay imports from node_modules, as in client-node's own bundle.
// The other modules of dist/ are left as tsc wrote them: tests and the bench import them directly.
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const dir = path.join(root, 'dist', 'cli');
const entry = path.join(dir, 'main.js');
const library = JSON.parse(readFileSync(path.join(root, 'node_modules', '@kubernetes', 'client-node', 'package.json'), 'utf8'));

// Chunks of an earlier build: their names change with their content.
for (const name of readdirSync(dir)) if (/^chunk-[A-Z0-9]+\.js$/.test(name)) rmSync(path.join(dir, name));

try {
  await build({
    entryPoints: [entry],
    outdir: dir,
    allowOverwrite: true,
    bundle: true,
    splitting: true,
    // Beside main.js, two levels under the package: paths made from import.meta.url
    // (package.json, policies/default) resolve from any of them as from the modules tsc wrote.
    chunkNames: 'chunk-[hash]',
    platform: 'node',
    format: 'esm',
    target: 'node20',
    external: Object.keys(library.dependencies ?? {}),
    // The CommonJS dependencies (commander, fast-json-patch, ...) require Node's modules.
    banner: { js: "import { createRequire as __tierguardCreateRequire } from 'node:module'; const require = __tierguardCreateRequire(import.meta.url);" },
    logLevel: 'warning',
  });
} catch (error) {
  console.error(`bundle-cli: cannot bundle ${path.relative(root, entry)} (run tsc and bundle-client-node first): ${error.message}`);
  process.exit(1);
}
// tsc's source map describes the module the bundle replaced.
rmSync(`${entry}.map`, { force: true });
