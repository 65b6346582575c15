/**
 * The layers' lint fences: the engine stays pure (no I/O, HTTP, metrics or Kubernetes clients),
 * the review layer stays transport-free, and the admission layer is HTTP only (never Cluster or
 * Policy internals).
 */
import { ESLint } from 'eslint';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_DIR } from './helpers/fixtures.js';

const eslint = new ESLint({ cwd: REPO_DIR });

async function lintIn(layer: 'engine' | 'review' | 'admission', code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: path.join(REPO_DIR, 'src', layer, 'lint-probe.ts') });
  return (result?.messages ?? []).filter((m) => m.ruleId?.startsWith('no-restricted')).map((m) => m.message);
}

const lintEngine = (code: string) => lintIn('engine', code);

describe('src/engine purity rule', () => {
  it.each([
    { name: 'express', code: "import express from 'express';\nexport const x = express;\n" },
    { name: 'node:fs', code: "import { readFileSync } from 'node:fs';\nexport const x = readFileSync;\n" },
    { name: 'fs/promises', code: "import { readFile } from 'fs/promises';\nexport const x = readFile;\n" },
    { name: 'prom-client', code: "import { Counter } from 'prom-client';\nexport const x = Counter;\n" },
    { name: '@kubernetes/client-node', code: "import { KubeConfig } from '@kubernetes/client-node';\nexport const x = KubeConfig;\n" },
    { name: 'the admission layer', code: "import { parseReview } from '../admission/review.js';\nexport const x = parseReview;\n" },
    { name: 'process', code: 'export const x = process.env.HOME;\n' },
  ])('rejects $name', async ({ code }) => {
    expect(await lintEngine(code)).not.toEqual([]);
  });

  it('accepts pure code', async () => {
    expect(await lintEngine("import type { Labels } from '../api/kube.js';\nexport const size = (labels: Labels): number => Object.keys(labels).length;\n")).toEqual([]);
  });
});

describe('src/review transport-free rule', () => {
  it.each([
    { name: 'node:https', code: "import https from 'node:https';\nexport const x = https;\n" },
    { name: 'prom-client', code: "import { Counter } from 'prom-client';\nexport const x = Counter;\n" },
    { name: 'the admission layer', code: "import { reviewOf } from '../admission/review.js';\nexport const x = reviewOf;\n" },
    { name: 'metrics', code: "import { createMetrics } from '../telemetry/metrics.js';\nexport const x = createMetrics;\n" },
    { name: 'the cluster', code: "import { startPolicyRuntime } from '../cluster/policy-runtime.js';\nexport const x = startPolicyRuntime;\n" },
  ])('rejects $name', async ({ code }) => {
    expect(await lintIn('review', code)).not.toEqual([]);
  });

  it('accepts the engine and policy set reading', async () => {
    expect(await lintIn('review', "import { validate } from '../engine/evaluate.js';\nimport { checkPolicyChange } from '../policy/admit.js';\nexport const x = [validate, checkPolicyChange];\n")).toEqual([]);
  });
});

describe('src/admission HTTP-only rule', () => {
  it.each([
    { name: 'policy internals', code: "import { checkPolicyChange } from '../policy/admit.js';\nexport const x = checkPolicyChange;\n" },
    { name: 'the cluster', code: "import { startPolicyRuntime } from '../cluster/policy-runtime.js';\nexport const x = startPolicyRuntime;\n" },
    { name: '@kubernetes/client-node', code: "import { KubeConfig } from '@kubernetes/client-node';\nexport const x = KubeConfig;\n" },
  ])('rejects $name', async ({ code }) => {
    expect(await lintIn('admission', code)).not.toEqual([]);
  });

  it('accepts the review layer', async () => {
    expect(await lintIn('admission', "import { review } from '../review/review.js';\nexport const x = review;\n")).toEqual([]);
  });
});
