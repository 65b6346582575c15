#!/usr/bin/env node
/**
 * Long run of the differential property test (symbolic override check vs brute force).
 *
 *   node scripts/differential.mjs [RUNS=50000] [SEED]
 *
 * Same as `DIFF_RUNS=50000 [DIFF_SEED=SEED] npx vitest run test/network/differential.test.ts`;
 * without SEED a random one is used (and printed), so repeated long runs explore new cases.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const runs = process.argv[2] ?? '50000';
const seed = process.argv[3] ?? String(Math.floor(Math.random() * 2 ** 31));
const root = fileURLToPath(new URL('..', import.meta.url));
console.log(`differential: DIFF_RUNS=${runs} DIFF_SEED=${seed}`);
const result = spawnSync('npx', ['vitest', 'run', 'test/network/differential.test.ts', '-t', 'symbolic override check'], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, DIFF_RUNS: runs, DIFF_SEED: seed },
});
process.exit(result.status ?? 1);
