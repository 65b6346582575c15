/**
 * `tierguard test` as a guardrail author runs it in CI: the built command on test files
 * (tierguard-test.yaml), a pass/fail table, exit 0 when every case passes, 1 when one fails, 2
 * when a test file cannot be run. The project's own test files for policies/default/ and
 * examples/ must pass.
 */
import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_DIR } from '../helpers/fixtures.js';

const CLI = path.join(REPO_DIR, 'dist', 'cli', 'main.js');
/** Only turns a hung command into a failure: starting node takes seconds on a busy machine. */
const CLI_KILL_MS = 60_000;

function tierguard(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { cwd: REPO_DIR, timeout: CLI_KILL_MS }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr });
    });
  });
}

/** A copy of examples/ in a temp dir, whose test file is `test` (YAML). */
function examplesWith(test: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tierguard-test-'));
  cpSync(path.join(REPO_DIR, 'examples'), dir, { recursive: true });
  writeFileSync(path.join(dir, 'tests', 'tierguard-test.yaml'), test);
  return path.join(dir, 'tests');
}

const HEAD = 'apiVersion: tierguard.dev/v1alpha1\nkind: Test\nmetadata: {name: t}\npolicies: [../policies]\nresources: [../manifests]\n';

describe('tierguard test', { timeout: CLI_KILL_MS * 2 }, () => {
  it('passes the project\'s own test files for policies/default/ and examples/', async () => {
    const result = await tierguard('test', 'policies/tests', 'examples/tests');
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const lines = result.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^TEST +RESOURCE +EXPECTED +RESULT +ACTUAL$/);
    const cases = (readFileSync(path.join(REPO_DIR, 'policies/tests/default/tierguard-test.yaml'), 'utf8').match(/- resource:/g)?.length ?? 0)
      + (readFileSync(path.join(REPO_DIR, 'examples/tests/tierguard-test.yaml'), 'utf8').match(/- resource:/g)?.length ?? 0);
    expect(lines.at(-1)).toBe(`${cases} passed, 0 failed`);
    expect(lines.filter((line) => / pass /.test(line))).toHaveLength(cases);
  });

  it('fails a case whose outcome, guardrail, rule or patch is not what happened, showing what did', async () => {
    const dir = examplesWith(`${HEAD}results:
  - {resource: Pod payments/debug, result: allowed}
  - {resource: Pod payments/debug, result: denied, guardrail: owner-label}
  - {resource: Pod payments/debug, result: denied, guardrail: domain-labels, rule: label:team}
  - {resource: NetworkPolicy payments/allow-api-from-frontend, result: allowed, patch: []}
  - {resource: Namespace payments, result: allowed}
`);
    const result = await tierguard('test', dir);
    expect(result.code).toBe(1);
    const rows = result.stdout.trimEnd().split('\n');
    expect(rows.at(-1)).toBe('1 passed, 4 failed');
    expect(rows[1]).toMatch(/Pod payments\/debug +allowed +FAIL +denied \(domain-labels\/label:segment\.tierguard\.dev\/domain\)$/);
    expect(rows[2]).toMatch(/denied by owner-label +FAIL/);
    expect(rows[3]).toMatch(/denied by domain-labels\/label:team +FAIL/);
    expect(rows[4]).toMatch(/allowed with 0-operation patch +FAIL +allowed patch \[\{"op":"add","path":"\/metadata\/labels"/);
    expect(rows[5]).toMatch(/Namespace payments +allowed +pass +allowed$/);
  });

  it.each([
    { name: 'a path that does not exist', args: ['no/such/dir'], stderr: 'no/such/dir: no such file or directory' },
    { name: 'a directory without test files', args: ['src'], stderr: 'no tierguard-test.yaml found in src' },
  ])('exits 2 on $name', async ({ args, stderr }) => {
    const result = await tierguard('test', ...args);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(stderr);
  });

  it.each([
    { name: 'a test file without results', test: HEAD, stderr: 'results: required field is missing' },
    { name: 'a misspelt field', test: `${HEAD}results: [{resource: Namespace payments, result: allowed, guardrial: x}]\n`, stderr: 'results[0].guardrial: unknown field' },
    { name: 'an unknown outcome', test: `${HEAD}results: [{resource: Namespace payments, result: pass}]\n`, stderr: 'results[0].result: ' },
    { name: 'a resource the manifests do not hold', test: `${HEAD}results: [{resource: Pod payments/nope, result: allowed}]\n`, stderr: 'no resource Pod payments/nope in ../manifests' },
    { name: 'policies that do not compile', test: HEAD.replace('[../policies]', `[${path.join(REPO_DIR, 'test', 'fixtures', 'policies', 'broken.yaml')}]`) + 'results: [{resource: Namespace payments, result: allowed}]\n', stderr: 'the policies do not compile' },
  ])('exits 2 on $name, naming the file', async ({ test, stderr }) => {
    const dir = examplesWith(test);
    const result = await tierguard('test', dir);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(path.join(dir, 'tierguard-test.yaml'));
    expect(result.stderr).toContain(stderr);
    expect(result.stdout).toBe('');
  });
});
