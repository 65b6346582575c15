/**
 * Reads Kubernetes manifests from YAML or JSON files and directories, one entry per document
 * (a `kind: List` expands to its items), each remembering its file and document number.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { readKubeYaml } from './kube-yaml.js';
import { unreadable, type PolicyProblem, type SourceRef } from './problems.js';

export interface ManifestDocument {
  readonly source: SourceRef;
  readonly value: unknown;
}

export interface ManifestSet {
  readonly documents: readonly ManifestDocument[];
  readonly problems: readonly PolicyProblem[];
  /** Files found in the directories given that are not manifests by their extension, left unread. */
  readonly skipped?: readonly string[];
}

const MANIFEST_EXTENSIONS = new Set(['.yaml', '.yml', '.json']);

/** Expands files and directories (recursively, sorted) into manifest file paths. */
export async function manifestFiles(paths: readonly string[]): Promise<{ files: string[]; problems: PolicyProblem[]; skipped: string[] }> {
  const files: string[] = [];
  const problems: PolicyProblem[] = [];
  const skipped: string[] = [];
  for (const entry of paths) {
    try {
      const info = await stat(entry);
      if (info.isDirectory()) await walk(entry, files, skipped);
      else files.push(entry);
    } catch (error) {
      problems.push(unreadable(entry, error));
    }
  }
  return { files, problems, skipped };
}

/** The manifest files under `dir` into `files`, sorted, and the other files into `skipped`. */
async function walk(dir: string, files: string[], skipped: string[]): Promise<void> {
  const entries = await readdir(dir, { withFileTypes: true });
  entries.sort((a, b) => (a.name < b.name ? -1 : 1));
  for (const entry of entries) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) await walk(full, files, skipped);
    else if (MANIFEST_EXTENSIONS.has(path.extname(entry.name))) files.push(full);
    else skipped.push(full);
  }
}

/** Parses one file's text into documents, as kubectl reads it (`./kube-yaml.ts`); what it would refuse becomes a problem with its line. */
export function parseManifestText(text: string, file: string): ManifestSet {
  const documents: ManifestDocument[] = [];
  const problems: PolicyProblem[] = [];
  readKubeYaml(text).forEach((doc, index) => {
    const source = { file, document: index + 1 };
    if (!doc.ok) {
      problems.push({ source, path: '', message: doc.message });
      return;
    }
    const { value } = doc;
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
  const { files, problems, skipped } = await manifestFiles(paths);
  const documents: ManifestDocument[] = [];
  for (const file of files) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (error) {
      problems.push(unreadable(file, error));
      continue;
    }
    const parsed = parseManifestText(text, file);
    documents.push(...parsed.documents);
    problems.push(...parsed.problems);
  }
  return { documents, problems, skipped };
}

/** The API group of Tiers and Guardrails. */
const POLICY_GROUP = 'tierguard.dev';

/** tierguard's policy test files (`tierguard test`): kept beside the policies, never applied. */
const TEST_FILE_KIND = 'Test';

/**
 * The documents a policy set is made of — anything of the `tierguard.dev` group but test files,
 * core Namespaces, and documents without a kind, or a Tier, Guardrail or Namespace without an
 * apiVersion (which the schema then refuses) — and how many objects of each other kind (and
 * apiVersion) were left out, as in a GitOps folder that holds the workloads and the tests too.
 */
export function policyDocuments(documents: readonly ManifestDocument[]): { documents: ManifestDocument[]; skipped: Map<string, number> } {
  const kept: ManifestDocument[] = [];
  const skipped = new Map<string, number>();
  for (const document of documents) {
    const { kind, apiVersion } = (typeof document.value === 'object' && document.value !== null ? document.value : {}) as { kind?: unknown; apiVersion?: unknown };
    const group = typeof apiVersion === 'string' && apiVersion.includes('/') ? apiVersion.slice(0, apiVersion.indexOf('/')) : '';
    // Without an apiVersion, a Tier, Guardrail or Namespace is ours to refuse, not to skip.
    const ours = typeof kind !== 'string' || (group === POLICY_GROUP && kind !== TEST_FILE_KIND)
      || (typeof apiVersion !== 'string' && ['Tier', 'Guardrail', 'Namespace'].includes(kind)) || (kind === 'Namespace' && apiVersion === 'v1');
    if (ours) kept.push(document);
    else {
      const name = typeof apiVersion === 'string' ? `${kind} (${apiVersion})` : kind;
      skipped.set(name, (skipped.get(name) ?? 0) + 1);
    }
  }
  return { documents: kept, skipped };
}
