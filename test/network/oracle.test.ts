/**
 * The netpol-analyzer point-query oracle (`../shared/oracles/netpol-analyzer/`, see its README):
 * every case's queries evaluated in-process through `explain`'s functions, `.allowed` compared with
 * the oracle line by line; then a few cases end to end through the built command.
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { explainContext, explainQuery, parseQueryLine } from '../../src/cli/explain.js';
import { loadPolicySet } from '../../src/policy/load.js';
import { readManifests } from '../../src/policy/manifests.js';
import { fixturePath, REPO_DIR } from '../helpers/fixtures.js';

const CASES_DIR = path.resolve(REPO_DIR, '..', 'shared', 'oracles', 'netpol-analyzer', 'cases');
/** Only `kind: Tier` `admin`: the README's policy set for cases without ANPs (no embedded guardrails). */
const ADMIN_TIER_ONLY = fixturePath('explain', 'admin-tier.yaml');
const CLI = path.join(REPO_DIR, 'dist', 'cli', 'main.js');

const cases = existsSync(CASES_DIR) ? readdirSync(CASES_DIR).filter((name) => statSync(path.join(CASES_DIR, name)).isDirectory()).sort() : [];

function casePaths(name: string) {
  const dir = path.join(CASES_DIR, name);
  const policies = path.join(dir, 'policies.yaml');
  return {
    policies: existsSync(policies) ? policies : ADMIN_TIER_ONLY,
    manifests: path.join(dir, 'manifests.yaml'),
    queries: path.join(dir, 'queries.jsonl'),
    expected: path.join(dir, 'expected.jsonl'),
  };
}

function jsonLines(file: string): string[] {
  return readFileSync(file, 'utf8').split('\n').filter((line) => line !== '');
}

function expectedVerdicts(file: string): boolean[] {
  return jsonLines(file).map((line) => (JSON.parse(line) as { allowed: boolean }).allowed);
}

describe('netpol-analyzer oracle', () => {
  it('finds the oracle cases beside the repository', () => {
    expect(cases.length, `no cases under ${CASES_DIR}`).toBeGreaterThan(0);
  });

  it.each(cases)('%s: every query has the oracle\'s verdict (in-process)', async (name) => {
    const paths = casePaths(name);
    const loaded = await loadPolicySet([paths.policies], { generation: 1 });
    expect(loaded.problems).toEqual([]);
    const manifests = await readManifests([paths.manifests]);
    const built = explainContext({ set: loaded.set!, documents: manifests.documents, namespaces: loaded.namespaces });
    expect([...manifests.problems, ...built.problems]).toEqual([]);
    const queries = jsonLines(paths.queries);
    const expected = expectedVerdicts(paths.expected);
    expect(queries.length).toBe(expected.length);
    const mismatches: string[] = [];
    let count = 0;
    queries.forEach((line, i) => {
      const verdict = explainQuery(built.context!, parseQueryLine(line));
      if (verdict.allowed === expected[i]) return;
      count += 1;
      if (mismatches.length < 5) {
        mismatches.push(`line ${i + 1}: ${line}\n  expected allowed=${expected[i]}, got ${verdict.allowed}; egress ${JSON.stringify(verdict.egress.decidedBy)}, ingress ${JSON.stringify(verdict.ingress.decidedBy)}`);
      }
    });
    expect({ mismatches: count, first: mismatches }).toEqual({ mismatches: 0, first: [] });
  });
});

function explainCli(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    // The kill timeout only turns a hung command into a failure: a busy machine takes seconds to start node.
    execFile(process.execPath, [CLI, 'explain', ...args], { cwd: REPO_DIR, timeout: 60_000, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr });
    });
  });
}

describe('netpol-analyzer oracle through the built command', () => {
  // A tier case with named ports on addresses, a NetworkPolicy case with a named port numbered 0,
  // and one of the largest (3,000 queries, ipBlock with except).
  it.each(['anp_test_named_ports_multiple_peers', 'netpol_named_port_test_2', 'ipblockstest'].filter((name) => cases.includes(name)))(
    '%s: explain --queries -o json answers every line as the oracle does',
    async (name) => {
      const paths = casePaths(name);
      const result = await explainCli(['--config', paths.policies, '-f', paths.manifests, '--queries', paths.queries, '-o', 'json']);
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      const answers = result.stdout.split('\n').filter((line) => line !== '').map((line) => JSON.parse(line) as { allowed: boolean });
      expect(answers.map((answer) => answer.allowed)).toEqual(expectedVerdicts(paths.expected));
      expect(Object.keys(answers[0]!)).toEqual(['allowed', 'egress', 'ingress']);
    },
    120_000,
  );
});
