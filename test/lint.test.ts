/** The engine stays pure: the lint rule that keeps I/O, HTTP, metrics and Kubernetes clients out of it. */
import { ESLint } from 'eslint';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_DIR } from './helpers/fixtures.js';

const eslint = new ESLint({ cwd: REPO_DIR });

async function lintEngine(code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: path.join(REPO_DIR, 'src', 'engine', 'lint-probe.ts') });
  return (result?.messages ?? []).filter((m) => m.ruleId?.startsWith('no-restricted')).map((m) => m.message);
}

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
