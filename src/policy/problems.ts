import { formatPath } from '../engine/object.js';
import type { z } from 'zod';

/** Where a document came from: a file and its 1-based document number, or a cluster object. */
export interface SourceRef {
  readonly file: string;
  /** 1-based position of the YAML document in its file; 0 for the file as a whole (it could not be read). */
  readonly document: number;
}

/** Sources of cluster objects are `cluster:KIND/NAME`; every other source is a file. */
export const CLUSTER_SOURCE_PREFIX = 'cluster:';

/** Whether a document is a Tier or Guardrail object of the cluster rather than a `--config` file. */
export function isClusterSource(source: SourceRef): boolean {
  return source.file.startsWith(CLUSTER_SOURCE_PREFIX);
}

/** One thing wrong with a policy set, precise enough to fix without guessing. */
export interface PolicyProblem {
  readonly source: SourceRef;
  /** `Kind name` of the object, when it could be read. */
  readonly object?: string;
  /** Field path in the object, e.g. `spec.ingress[0].from[1]`; empty for the whole document. */
  readonly path: string;
  readonly message: string;
  /**
   * Set on problems that are about another object rather than this one's own content:
   * `TierNotFound` — the Guardrail names a Tier that is not in the set. In a cluster such a
   * Guardrail is admitted (the Tier may come next) and waits, out of force, until it exists.
   */
  readonly code?: 'TierNotFound';
}

/** `file#2 (Guardrail prod-isolation) spec.priority: reason`, or `file: reason` about the whole file. */
export function formatProblem(problem: PolicyProblem): string {
  const object = problem.object ? ` (${problem.object})` : '';
  const path = problem.path ? ` ${problem.path}:` : ':';
  const document = problem.source.document > 0 ? `#${problem.source.document}` : '';
  return `${problem.source.file}${document}${object}${path} ${problem.message}`;
}

/** A file that could not be read, as a problem of the whole file: `cannot read: no such file or directory`. */
export function unreadable(file: string, error: unknown): PolicyProblem {
  return { source: { file, document: 0 }, path: '', message: `cannot read: ${readError(error)}` };
}

/** What went wrong reading a file, without node's error code and the path the problem already names. */
function readError(error: unknown): string {
  const { code, message } = error as NodeJS.ErrnoException;
  switch (code) {
    case 'ENOENT': return 'no such file or directory';
    case 'EACCES': return 'permission denied';
    case 'EISDIR': return 'is a directory';
    default: return message;
  }
}

/** Zod issues as problems: one per unknown key, with plain-words messages for missing fields. */
export function problemsFromIssues(
  issues: readonly z.core.$ZodIssue[],
  context: { source: SourceRef; object?: string; prefix?: readonly PropertyKey[] },
): PolicyProblem[] {
  const prefix = context.prefix ?? [];
  const problems: PolicyProblem[] = [];
  for (const issue of issues) {
    const base = { source: context.source, ...(context.object ? { object: context.object } : {}) };
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        problems.push({ ...base, path: formatPath([...prefix, ...issue.path, key]), message: 'unknown field' });
      }
      continue;
    }
    const message = issue.message.endsWith('received undefined') ? 'required field is missing' : issue.message.replace(/^Invalid input: /, '');
    problems.push({ ...base, path: formatPath([...prefix, ...issue.path]), message });
  }
  return problems;
}
