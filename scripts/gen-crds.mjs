#!/usr/bin/env node
// Writes the Tier and Guardrail CustomResourceDefinitions, generated from the zod schema of
// src/policy/schema.ts by src/policy/crd.ts, to charts/tierguard/crds/, and the editors' JSON
// Schema made from them (src/policy/editor-schema.ts) to schemas/tierguard.schema.json.
//   npm run build && node scripts/gen-crds.mjs           write the files
//   npm run build && node scripts/gen-crds.mjs --check   exit 1 if the committed files differ
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const check = process.argv.includes('--check');

let crd;
let editor;
try {
  crd = await import(pathToFileURL(path.join(root, 'dist', 'policy', 'crd.js')).href);
  editor = await import(pathToFileURL(path.join(root, 'dist', 'policy', 'editor-schema.js')).href);
} catch (error) {
  console.error(`gen-crds: cannot load dist/policy/crd.js (run npm run build first): ${error.message}`);
  process.exit(2);
}

const files = [...crd.crdFiles().map((file) => ({ ...file, name: path.join(crd.CRD_DIR, file.name) })), editor.editorSchemaFile()];
const stale = [];
for (const file of files) {
  const target = path.join(root, file.name);
  await mkdir(path.dirname(target), { recursive: true });
  const current = await readFile(target, 'utf8').catch(() => undefined);
  if (current === file.content) continue;
  stale.push(path.relative(root, target));
  if (!check) await writeFile(target, file.content);
}
if (check && stale.length > 0) {
  console.error(`gen-crds: out of date: ${stale.join(', ')} (run npm run build && node scripts/gen-crds.mjs)`);
  process.exit(1);
}
console.log(stale.length === 0 ? 'gen-crds: up to date' : `gen-crds: wrote ${stale.join(', ')}`);
