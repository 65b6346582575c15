// Runs one bench section in a process of its own and writes what it returns as JSON, so that an
// engine section measures the engine and not the heap an earlier section left behind (the override
// check's p99 per NetworkPolicy was 7.4 ms after the audit section's 130,000 objects, 2.8 ms alone).
// Started by bench/run.mjs for the sections that export `ownProcess = true`; the section's own
// console output goes to the terminal as before.
//
// Usage: node bench/section-process.mjs <section file> <context JSON file> <result JSON file>
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const [file, contextFile, resultFile] = process.argv.slice(2);
if (!file || !contextFile || !resultFile) {
  console.error('usage: node bench/section-process.mjs <section file> <context JSON file> <result JSON file>');
  process.exit(2);
}
const sections = path.join(path.dirname(fileURLToPath(import.meta.url)), 'sections');
const section = await import(pathToFileURL(path.join(sections, file)).href);
// What such a section may read of bench/run.mjs's context: the repository root and the settings.
const { repoRoot, settings } = JSON.parse(readFileSync(contextFile, 'utf8'));
// The engine is measured in a process tuned as tierguard's command line tunes its own (ADR 16).
const { tuneHeap } = await import(pathToFileURL(path.join(repoRoot, 'dist', 'cli', 'heap.js')).href);
tuneHeap();
const result = await section.run({ repoRoot, settings });
writeFileSync(resultFile, JSON.stringify(result ?? null));
