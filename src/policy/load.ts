import { fileURLToPath } from 'node:url';
import { compilePolicySet, type CompileResult } from './compile.js';
import { policyDocuments, readManifests } from './manifests.js';

/** The embedded starter guardrails shipped in the package (`policies/default/`). */
export const DEFAULT_POLICY_DIR = fileURLToPath(new URL('../../policies/default/', import.meta.url));

/**
 * Reads and compiles the policy files under `paths` (files or directories, multi-document YAML).
 * Problems reading or parsing files are reported together with schema and compile problems.
 */
export async function loadPolicySet(paths: readonly string[], options: { generation: number }): Promise<CompileResult> {
  return compilePolicySet(await readManifests(paths), options);
}

/**
 * As `loadPolicySet`, for folders that hold other manifests too (a GitOps repository): only the
 * Tiers, Guardrails and Namespaces are compiled, and `skipped` counts the other objects by kind.
 * `lint` and `tierguard test` read policies this way.
 */
export async function loadPolicyFolder(paths: readonly string[], options: { generation: number }): Promise<CompileResult & { skipped: ReadonlyMap<string, number> }> {
  const manifests = await readManifests(paths);
  const { documents, skipped } = policyDocuments(manifests.documents);
  return { ...compilePolicySet({ documents, problems: manifests.problems }, options), skipped };
}
