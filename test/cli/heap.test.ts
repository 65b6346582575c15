/**
 * The heap tuning of tierguard's command line (src/cli/heap.ts, ADR 16). Compiling 1,000
 * independent guardrails teaches V8 to allocate the engine's object literals in the old
 * generation; the override checks that follow then promote their short-lived objects at every
 * collection of the young generation. With `tuneHeap` they do not. What is measured is the bytes
 * V8 says it promoted (`--trace-gc-nvp`), in two fresh processes that differ only in the call:
 * nothing is timed. The untuned process is the control: it shows the measurement sees the effect.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const ROOT = path.resolve(import.meta.dirname, '..', '..');
const url = (...parts: string[]) => pathToFileURL(path.join(ROOT, ...parts)).href;
const MARK = '--- checks start ---';

/** A process that compiles the bench's 1,000-guardrail set, then checks its NetworkPolicies three times. */
const script = (tuned: boolean) => `
  const { tuneHeap } = await import(${JSON.stringify(url('dist', 'cli', 'heap.js'))});
  if (${tuned}) tuneHeap();
  const { generateRealisticSet } = await import(${JSON.stringify(url('bench', 'realistic-set.mjs'))});
  const { drawNetworkPolicies } = await import(${JSON.stringify(url('bench', 'sections', 'override-check.mjs'))});
  const { compilePolicySet } = await import(${JSON.stringify(url('dist', 'policy', 'compile.js'))});
  const { checkOverrides } = await import(${JSON.stringify(url('dist', 'engine', 'network', 'override.js'))});
  const generated = generateRealisticSet({ seed: 1, guardrails: 1000, mix: { network: 1, labels: 0, cel: 0 }, applying: { namespace: 'payments', network: 50 } });
  const documents = [...generated.tiers, ...generated.guardrails, ...generated.namespaces].map((value, i) => ({ source: { file: 'test', document: i + 1 }, value }));
  const { set, namespaces } = compilePolicySet({ documents }, { generation: 1 });
  const own = namespaces.find((ns) => ns.name === 'payments');
  const policies = drawNetworkPolicies({ seed: 1, count: 300, applying: 'payments', applyingShare: 1, namespaces: generated.namespaces });
  const check = (policy) => checkOverrides(set, { policy, namespace: { name: own.name, labels: own.labels, known: true }, knownNamespaces: namespaces });
  for (const policy of policies) check(policy);
  console.log(${JSON.stringify(MARK)});
  let findings = 0;
  for (let round = 0; round < 3; round++) for (const policy of policies) findings += check(policy).findings.length;
  console.log('findings', findings);
`;

/** The bytes each collection of the young generation promoted once the checks started. */
async function promotedPerScavenge(tuned: boolean): Promise<number[]> {
  const { stdout } = await run(process.execPath, ['--trace-gc-nvp', '--input-type=module', '-e', script(tuned)], { cwd: ROOT, maxBuffer: 64 * 1024 * 1024 });
  const checks = stdout.slice(stdout.indexOf(MARK));
  expect(checks).toMatch(/findings [1-9]/);
  return checks.split('\n').filter((line) => /\bgc=s\b/.test(line)).map((line) => Number(/\bpromoted=(\d+)/.exec(line)?.[1]));
}

/** The median: the first collections after the warm-up still promote what the memos of a check keep. */
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;

describe('tuneHeap', () => {
  it('keeps the override checks of a large set from promoting their objects', async () => {
    const [untuned, tuned] = await Promise.all([promotedPerScavenge(false), promotedPerScavenge(true)]);
    // enough collections to average over, and a number in each (the trace's format is as read)
    expect(untuned.length).toBeGreaterThanOrEqual(3);
    expect(tuned.length).toBeGreaterThanOrEqual(3);
    expect([...untuned, ...tuned].every(Number.isFinite)).toBe(true);
    // measured: a median of ~390 KB per collection untuned, ~4 KB tuned
    expect(median(tuned)).toBeLessThan(64 * 1024);
    expect(median(untuned)).toBeGreaterThan(4 * Math.max(median(tuned), 16 * 1024));
  }, 120_000);
});
