/**
 * Differential property test of the can-never-apply analysis (src/engine/network/shadow.ts)
 * against an enumeration (`neverApplying` in ./brute-force.ts): on small generated policy sets, a
 * guardrail is reported as never applying exactly when no connection of a complete finite universe
 * has one of its rules as the first match of its tier.
 *
 *   npx vitest run test/network/shadow-differential.test.ts                    # SHADOW_RUNS=400 by default
 *   SHADOW_SEED=123 SHADOW_PATH='4:1:0' npx vitest run test/network/shadow-differential.test.ts   # replay
 */
import fc from 'fast-check';
import { stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { shadowedGuardrail, shadowedGuardrails } from '../../src/engine/network/shadow.js';
import { compilePolicySet } from '../../src/policy/compile.js';
import { neverApplying } from './brute-force.js';
import { diffCaseArb } from './generators.js';

const RUNS = Number(process.env.SHADOW_RUNS ?? 400);
const SEED = process.env.SHADOW_SEED !== undefined ? Number(process.env.SHADOW_SEED) : 20250117;
const PATH = process.env.SHADOW_PATH;

const API = 'tierguard.dev/v1alpha1';
const tier = (name: string, priority: number) => ({ apiVersion: API, kind: 'Tier', metadata: { name }, spec: { priority } });
const guardrail = (name: string, spec: Record<string, unknown>) => ({ apiVersion: API, kind: 'Guardrail', metadata: { name }, spec: { tier: 'sec', priority: 0, ...spec } });
const all = { namespaces: {} };
const dev = { namespaces: { matchLabels: { env: 'dev' } } };

function compiled(objects: Record<string, unknown>[]) {
  const documents = objects.map((value, i) => ({ source: { file: 'gen', document: i + 1 }, value }));
  const { set, problems } = compilePolicySet({ documents }, { generation: 1 });
  if (!set) throw new Error(`generated policies do not compile: ${problems.map((p) => p.message).join('; ')}`);
  return set;
}

function analysed(objects: Record<string, unknown>[]): string[] {
  const set = compiled(objects);
  const analysis = shadowedGuardrails(set);
  if (analysis.notAnalysed > 0) throw new Error(`the analysis stopped at its bound on a small set (${analysis.stoppedAt})`);
  return analysis.shadowed.map((s) => s.guardrail).sort();
}

describe('can-never-apply analysis on hand-written sets (both sides)', () => {
  it.each([
    {
      name: 'a Deny of everything shadows a later guardrail of the same subject',
      objects: [tier('sec', 10), guardrail('a', { subject: all, ingress: [{ action: 'Deny', from: [all] }] }), guardrail('b', { priority: 5, subject: all, ingress: [{ action: 'Accept', from: [dev] }] })],
      expected: ['b'],
    },
    {
      name: 'a Pass sends traffic on: the next tier still applies, the rest of its own tier does not',
      objects: [
        tier('sec', 10), tier('base', 20),
        guardrail('a', { subject: all, ingress: [{ action: 'Pass', from: [all] }] }),
        guardrail('b', { priority: 5, subject: all, ingress: [{ action: 'Deny', from: [dev] }] }),
        guardrail('c', { tier: 'base', subject: all, ingress: [{ action: 'Deny', from: [dev] }] }),
      ],
      expected: ['b'],
    },
    {
      name: 'what a Pass sent on is a hole in the later rules of its tier: the next tier still decides it',
      objects: [
        tier('sec', 10), tier('base', 20),
        guardrail('a', { subject: all, ingress: [{ action: 'Pass', from: [dev] }] }),
        guardrail('b', { priority: 5, subject: all, ingress: [{ action: 'Accept', from: [all] }] }),
        guardrail('c', { tier: 'base', subject: all, ingress: [{ action: 'Deny', from: [dev] }] }),
        guardrail('d', { tier: 'base', priority: 5, subject: all, ingress: [{ action: 'Deny', from: [all] }] }),
      ],
      // c meets the traffic from dev that b's Accept did not decide; d meets only what b and c decided
      expected: ['d'],
    },
    {
      name: 'a Pass of part of the traffic: the later Accept of its tier decides the rest',
      objects: [
        tier('sec', 10), tier('base', 20),
        guardrail('a', { subject: all, ingress: [{ action: 'Pass', from: [dev] }] }),
        guardrail('b', { priority: 5, subject: all, ingress: [{ action: 'Accept', from: [all] }] }),
        guardrail('c', { tier: 'base', subject: dev, ingress: [{ action: 'Deny', from: [{ namespaces: { matchLabels: { env: 'prod' } } }] }] }),
      ],
      expected: ['c'],
    },
    {
      name: 'a Warn guardrail decides nothing for the guardrails after it',
      objects: [tier('sec', 10), guardrail('a', { mode: 'Warn', subject: all, ingress: [{ action: 'Deny', from: [all] }] }), guardrail('b', { priority: 5, subject: all, ingress: [{ action: 'Deny', from: [dev] }] })],
      expected: [],
    },
    {
      name: 'a different subject is not shadowed',
      objects: [tier('sec', 10), guardrail('a', { subject: dev, ingress: [{ action: 'Deny', from: [all] }] }), guardrail('b', { priority: 5, subject: all, ingress: [{ action: 'Deny', from: [all] }] })],
      expected: [],
    },
  ])('$name', ({ objects, expected }) => {
    expect(neverApplying(objects)).toEqual(expected);
    expect(analysed(objects)).toEqual(expected);
    // Admission judges one guardrail, entering the ones before it unjudged: the same answers.
    const set = compiled(objects);
    expect(set.guardrails.map((g) => g.name).filter((name) => shadowedGuardrail(set, name) !== undefined).sort()).toEqual(expected);
  });
});

describe('can-never-apply analysis agrees with the enumeration', () => {
  it(`on ${RUNS} generated sets (seed ${SEED})`, () => {
    let compared = 0;
    let withShadowed = 0;
    const details = fc.check(fc.property(diffCaseArb, ({ objects }) => {
      const expected = neverApplying(objects);
      if (expected === undefined) return true;
      compared++;
      if (expected.length > 0) withShadowed++;
      return JSON.stringify(analysed(objects)) === JSON.stringify(expected);
    }), { numRuns: RUNS, seed: SEED, ...(PATH ? { path: PATH } : {}) });
    console.log(`shadow differential: ${compared} of ${details.numRuns} sets compared, ${withShadowed} with a guardrail that can never apply`);
    if (details.failed) {
      const [counterexample] = details.counterexample ?? [];
      const objects = counterexample?.objects ?? [];
      throw new Error([
        `shadow.ts and the enumeration disagree after ${details.numRuns} runs and ${details.numShrinks} shrinks`,
        `replay: SHADOW_SEED=${details.seed} SHADOW_PATH='${details.counterexamplePath}' npx vitest run test/network/shadow-differential.test.ts`,
        `enumeration: ${JSON.stringify(neverApplying(objects))}, shadow.ts: ${safe(() => JSON.stringify(analysed(objects)))}`,
        objects.map((o) => stringify(o)).join('---\n'),
      ].join('\n'));
    }
    expect(compared).toBeGreaterThan(RUNS / 2);
    expect(withShadowed).toBeGreaterThan(0);
  }, 300_000);
});

describe('the judgement of one guardrail (admission) agrees with the enumeration', () => {
  // What admission of a Guardrail runs: the guardrails before it are entered without being judged.
  it(`for every guardrail of ${Math.ceil(RUNS / 4)} generated sets (seed ${SEED})`, () => {
    let judged = 0;
    let shadowed = 0;
    const details = fc.check(fc.property(diffCaseArb, ({ objects }) => {
      const expected = neverApplying(objects);
      if (expected === undefined) return true;
      const set = compiled(objects);
      for (const { name } of set.guardrails) {
        judged++;
        const answer = shadowedGuardrail(set, name) !== undefined;
        if (answer) shadowed++;
        if (answer !== expected.includes(name)) return false;
      }
      return true;
    }), { numRuns: Math.ceil(RUNS / 4), seed: SEED, ...(PATH ? { path: PATH } : {}) });
    if (details.failed) {
      const [counterexample] = details.counterexample ?? [];
      const objects = counterexample?.objects ?? [];
      throw new Error([
        `shadowedGuardrail and the enumeration disagree (replay: SHADOW_SEED=${details.seed} SHADOW_PATH='${details.counterexamplePath}')`,
        `enumeration: ${JSON.stringify(neverApplying(objects))}`,
        objects.map((o) => stringify(o)).join('---\n'),
      ].join('\n'));
    }
    expect(judged).toBeGreaterThan(RUNS / 4);
    expect(shadowed).toBeGreaterThan(0);
  }, 300_000);
});

function safe(f: () => string): string {
  try {
    return f();
  } catch (error) {
    return `error: ${error instanceof Error ? error.message : String(error)}`;
  }
}
