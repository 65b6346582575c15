/**
 * Reads Kubernetes manifests from YAML or JSON files and directories, one entry per document
 * (a `kind: List` expands to its items), each remembering its file and document number.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import type { PolicyProblem, SourceRef } from './problems.js';

export interface ManifestDocument {
  readonly source: SourceRef;
  readonly value: unknown;
}

export interface ManifestSet {
  readonly documents: readonly ManifestDocument[];
  readonly problems: readonly PolicyProblem[];
}

const MANIFEST_EXTENSIONS = new Set(['.yaml', '.yml', '.json']);

/** Expands files and directories (recursively, sorted) into manifest file paths. */
export async function manifestFiles(paths: readonly string[]): Promise<{ files: string[]; problems: PolicyProblem[] }> {
  const files: string[] = [];
  const problems: PolicyProblem[] = [];
  for (const entry of paths) {
    try {
      const info = await stat(entry);
      if (info.isDirectory()) files.push(...(await walk(entry)));
      else files.push(entry);
    } catch (error) {
      problems.push({ source: { file: entry, document: 0 }, path: '', message: `cannot read: ${(error as Error).message}` });
    }
  }
  return { files, problems };
}

async function walk(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  entries.sort((a, b) => (a.name < b.name ? -1 : 1));
  const out: string[] = [];
  for (const entry of entries) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await walk(full)));
    else if (MANIFEST_EXTENSIONS.has(path.extname(entry.name))) out.push(full);
  }
  return out;
}

/** Parses one file's text into documents; YAML syntax errors become problems with line numbers. */
export function parseManifestText(text: string, file: string): ManifestSet {
  const documents: ManifestDocument[] = [];
  const problems: PolicyProblem[] = [];
  parseAllDocuments(text).forEach((doc, index) => {
    const source = { file, document: index + 1 };
    if (doc.errors.length > 0) {
      for (const error of doc.errors) {
        const line = error.linePos?.[0]?.line;
        const reason = (error.message.split('\n')[0] ?? '').replace(/ at line \d+, column \d+:?$/, '');
        problems.push({ source, path: '', message: `invalid YAML${line ? ` at line ${line}` : ''}: ${reason}` });
      }
      return;
    }
    const value: unknown = doc.toJS({ maxAliasCount: 100 });
    if (value === null || value === undefined) return;
    if (isList(value)) {
      value.items.forEach((item) => documents.push({ source, value: item }));
      return;
    }
    documents.push({ source, value });
  });
  return { documents, problems };
}

function isList(value: unknown): value is { items: unknown[] } {
  return typeof value === 'object' && value !== null && (value as { kind?: unknown }).kind === 'List' && Array.isArray((value as { items?: unknown }).items);
}

/** Reads every manifest under `paths`; unreadable files and bad YAML are problems, not exceptions. */
export async function readManifests(paths: readonly string[]): Promise<ManifestSet> {
  const { files, problems } = await manifestFiles(paths);
  const documents: ManifestDocument[] = [];
  for (const file of files) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (error) {
      problems.push({ source: { file, document: 0 }, path: '', message: `cannot read: ${(error as Error).message}` });
      continue;
    }
    const parsed = parseManifestText(text, file);
    documents.push(...parsed.documents);
    problems.push(...parsed.problems);
  }
  return { documents, problems };
}
