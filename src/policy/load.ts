import { fileURLToPath } from 'node:url';
import { compilePolicySet, type CompileResult } from './compile.js';
import { readManifests } from './manifests.js';

/** The embedded starter guardrails shipped in the package (`policies/default/`). */
export const DEFAULT_POLICY_DIR = fileURLToPath(new URL('../../policies/default/', import.meta.url));

/**
 * Reads and compiles the policy files under `paths` (files or directories, multi-document YAML).
 * Problems reading or parsing files are reported together with schema and compile problems.
 */
export async function loadPolicySet(paths: readonly string[], options: { generation: number }): Promise<CompileResult> {
  return compilePolicySet(await readManifests(paths), options);
}
