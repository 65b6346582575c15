/**
 * `tierguard test`: policy test cases for CI, as `kyverno test` and `gator verify` give them. A
 * test file (`tierguard-test.yaml`) names policy files, resource manifests (Namespaces included)
 * and, per resource, the outcome expected when it is created — allowed, warned or denied, by
 * which guardrail and rule, with which patch. Resources are judged exactly as `check` judges them
 * (mutation, then validation of the mutated object).
 */
import { readFile, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { z } from 'zod';
import { loadPolicyFolder } from '../policy/load.js';
import { readKubeYaml } from '../policy/kube-yaml.js';
import { readManifests } from '../policy/manifests.js';
import { formatProblem, problemsFromIssues } from '../policy/problems.js';
import type { EngineOptions } from '../engine/evaluate.js';
import { checkManifests, manifestProblems, type CheckResult } from './check.js';

/** The file name `tierguard test DIR` looks for, as `kyverno test` looks for kyverno-test.yaml. */
export const TEST_FILE_NAME = 'tierguard-test.yaml';

const OUTCOMES = ['allowed', 'warned', 'denied'] as const;
type Outcome = (typeof OUTCOMES)[number];

const patchOperation = z.looseObject({ op: z.string(), path: z.string() });

const testFileSchema = z.strictObject({
  apiVersion: z.literal('tierguard.dev/v1alpha1'),
  kind: z.literal('Test'),
  metadata: z.looseObject({ name: z.string().min(1) }),
  /** Policy files or directories, relative to the test file. */
  policies: z.array(z.string().min(1)).min(1),
  /** Manifests of the resources (and their Namespaces), relative to the test file. */
  resources: z.array(z.string().min(1)).min(1),
  results: z.array(z.strictObject({
    /** `Kind namespace/name`, or `Kind name` for a cluster-scoped object. */
    resource: z.string().regex(/^[A-Za-z]+ ([a-z0-9.-]+\/)?[a-z0-9.-]+$/, 'expected "Kind namespace/name" or "Kind name"'),
    result: z.enum(OUTCOMES),
    /** A finding of this guardrail (Enforce for denied, Warn for warned) must be among the object's. */
    guardrail: z.string().min(1).optional(),
    /** With `guardrail`: the finding's rule id, e.g. `label:team` or `deny-from-dev`. */
    rule: z.string().min(1).optional(),
    /** The mutating webhook's JSONPatch, exactly. */
    patch: z.array(patchOperation).optional(),
  }).refine((entry) => entry.rule === undefined || entry.guardrail !== undefined, { message: 'rule needs guardrail', path: ['rule'] })
    .refine((entry) => entry.guardrail === undefined || entry.result !== 'allowed', { message: 'an allowed resource has no guardrail to name (use warned or denied)', path: ['guardrail'] })).min(1),
});

type TestFile = z.infer<typeof testFileSchema>;
type Expectation = TestFile['results'][number];

/** One line of the table: a resource's expected outcome and what happened. */
export interface TestRow {
  readonly test: string;
  readonly resource: string;
  readonly expected: string;
  readonly actual: string;
  readonly pass: boolean;
}

/** A test file that cannot be run: its path and why. Exit code 2. */
export class TestFileError extends Error {}

/** The test files under `paths`: files as given, directories searched for tierguard-test.yaml. */
export async function findTestFiles(paths: readonly string[]): Promise<string[]> {
  const files: string[] = [];
  for (const entry of paths) {
    let info;
    try {
      info = await stat(entry);
    } catch {
      throw new TestFileError(`${entry}: no such file or directory`);
    }
    if (!info.isDirectory()) files.push(entry);
    else await walk(entry, files);
  }
  return files;
}

async function walk(dir: string, files: string[]): Promise<void> {
  const entries = (await readdir(dir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1));
  for (const entry of entries) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory() && entry.name !== 'node_modules' && !entry.name.startsWith('.')) await walk(full, files);
    else if (entry.name === TEST_FILE_NAME) files.push(full);
  }
}

/** Reads and checks one test file. */
async function readTestFile(file: string): Promise<TestFile> {
  // Read as kubectl reads YAML, as its policies and resources are (`readKubeYaml`).
  const documents = readKubeYaml(await readFile(file, 'utf8'));
  const [document] = documents;
  if (documents.length !== 1 || !document) throw new TestFileError(`${file}: a test file is one YAML document; it has ${documents.length}`);
  if (!document.ok) throw new TestFileError(`${file}: ${document.message}`);
  const { value } = document;
  const parsed = testFileSchema.safeParse(value);
  if (!parsed.success) {
    // Worded as the problems of policy files are: `results: required field is missing`, `reslts: unknown field`.
    const problems = problemsFromIssues(parsed.error.issues, { source: { file, document: 1 } });
    throw new TestFileError(`${file}: ${problems.slice(0, 5).map((problem) => `${problem.path || 'the file'}: ${problem.message}`).join('; ')}`);
  }
  return parsed.data;
}

/** Runs one test file: its rows, or a TestFileError when its policies or resources cannot be read. */
export async function runTestFile(file: string, engine: EngineOptions): Promise<TestRow[]> {
  const test = await readTestFile(file);
  const relative = (entry: string) => path.resolve(path.dirname(file), entry);
  // As `lint` reads them: other kinds in the policy folders are skipped.
  const compiled = await loadPolicyFolder(test.policies.map(relative), { generation: 1 });
  if (!compiled.set) throw new TestFileError(`${file}: the policies do not compile:\n${compiled.problems.map(formatProblem).join('\n')}`);
  const resources = await readManifests(test.resources.map(relative));
  const problems = [...resources.problems, ...manifestProblems(resources.documents)];
  if (problems.length > 0) throw new TestFileError(`${file}: cannot read the resources:\n${problems.map(formatProblem).join('\n')}`);
  const results = await checkManifests({ set: compiled.set, documents: resources.documents, namespaces: compiled.namespaces, engine, failureMode: 'deny' });
  const byResource = new Map(results.map((result) => [resourceName(result), result]));
  return test.results.map((expectation) => {
    const result = byResource.get(expectation.resource);
    if (!result) throw new TestFileError(`${file}: results: no resource ${expectation.resource} in ${test.resources.join(', ')}`);
    return row(test.metadata.name, expectation, result);
  });
}

function resourceName(result: CheckResult): string {
  return `${result.kind} ${result.namespace ? `${result.namespace}/` : ''}${result.name}`;
}

function outcomeOf(result: CheckResult): Outcome {
  if (!result.allowed) return 'denied';
  return result.warnings.length > 0 ? 'warned' : 'allowed';
}

/** The finding mode an expected outcome names a guardrail by. */
const MODE_OF: Readonly<Record<Outcome, string>> = { allowed: '', warned: 'Warn', denied: 'Enforce' };

function row(test: string, expectation: Expectation, result: CheckResult): TestRow {
  const actualOutcome = outcomeOf(result);
  const by = expectation.guardrail ? ` by ${expectation.guardrail}${expectation.rule ? `/${expectation.rule}` : ''}` : '';
  const expected = `${expectation.result}${by}${expectation.patch ? ` with ${expectation.patch.length}-operation patch` : ''}`;
  const mode = MODE_OF[expectation.result];
  const named = !expectation.guardrail || result.violations.some((finding) => finding.mode === mode && finding.guardrail === expectation.guardrail && (!expectation.rule || finding.rule === expectation.rule));
  const patched = !expectation.patch || isDeepStrictEqual(expectation.patch, result.patch);
  const findings = result.violations.filter((finding) => finding.mode !== 'Audit').map((finding) => `${finding.guardrail}/${finding.rule}`);
  const actual = [
    actualOutcome,
    ...(findings.length > 0 ? [`(${findings.join(', ')})`] : []),
    ...(result.error ? [`error: ${result.error}`] : []),
    ...(expectation.patch && !patched ? [`patch ${JSON.stringify(result.patch)}`] : []),
  ].join(' ');
  return { test, resource: expectation.resource, expected, actual, pass: actualOutcome === expectation.result && named && patched };
}

/** The rows as a table, then a count line. */
export function formatTestTable(rows: readonly TestRow[]): string {
  const header = { test: 'TEST', resource: 'RESOURCE', expected: 'EXPECTED', actual: 'ACTUAL', result: 'RESULT' };
  const lines = [header, ...rows.map((row) => ({ ...row, result: row.pass ? 'pass' : 'FAIL' }))];
  const width = (key: keyof typeof header) => Math.max(...lines.map((line) => line[key].length));
  const columns = ['test', 'resource', 'expected', 'result'] as const;
  const text = lines.map((line) => [...columns.map((key) => line[key].padEnd(width(key))), line.actual].join('  ').trimEnd());
  const failed = rows.filter((row) => !row.pass).length;
  return `${text.join('\n')}\n${rows.length - failed} passed, ${failed} failed\n`;
}
