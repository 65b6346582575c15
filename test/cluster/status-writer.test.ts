/**
 * Which Ready condition each Tier/Guardrail gets after a compile, and when it is written: only on
 * change, with failed writes tried again at the next compile. The client is a recording fake.
 */
import { describe, expect, it } from 'vitest';
import { decodePolicyObject, type ClusterPolicyObject } from '../../src/cluster/cluster-policies.js';
import { KubeApiError, type KubeClient } from '../../src/cluster/kube-client.js';
import { createStatusWriter, readyCondition } from '../../src/cluster/status-writer.js';
import type { CompileResult } from '../../src/policy/compile.js';
import type { PolicyProblem } from '../../src/policy/problems.js';
import { silentLogger } from '../../src/telemetry/logger.js';

const guardrail = (name: string, generation = 1, ready?: object): ClusterPolicyObject =>
  decodePolicyObject('Guardrail', { metadata: { name, generation }, spec: {}, ...(ready ? { status: { conditions: [ready] } } : {}) }) as ClusterPolicyObject;
const problem = (name: string, message: string, path = 'spec.tier'): PolicyProblem => ({ source: { file: `cluster:Guardrail/${name}`, document: 1 }, object: `Guardrail ${name}`, path, message });

describe('readyCondition', () => {
  it.each([
    { name: 'own problems: Invalid, listing them', problems: [problem('a', 'bad tier'), problem('a', 'bad key', 'spec.labels')], compiled: false, inForce: undefined, expected: { status: 'False', reason: 'Invalid', message: 'spec.tier: bad tier; spec.labels: bad key' } },
    { name: 'compiled: True', problems: [], compiled: true, inForce: undefined, expected: { status: 'True', reason: 'Compiled' } },
    { name: 'set broken elsewhere, this generation in force: True', problems: [problem('b', 'x')], compiled: false, inForce: 3, expected: { status: 'True', reason: 'Compiled' } },
    { name: 'set broken elsewhere, newer generation: PolicySetInvalid naming the culprit', problems: [problem('b', 'x')], compiled: false, inForce: 2, expected: { status: 'False', reason: 'PolicySetInvalid', message: 'not in force: the policy set does not compile because of problems in Guardrail b; the last good set stays in force' } },
  ])('$name', ({ problems, compiled, inForce, expected }) => {
    const condition = readyCondition({ object: guardrail('a', 3), problems, compiled, ...(inForce !== undefined ? { inForceGeneration: inForce } : {}) });
    expect(condition).toMatchObject({ type: 'Ready', observedGeneration: 3, ...expected });
  });

  it('names at most five culprits and bounds the message length', () => {
    const others = Array.from({ length: 8 }, (_, i) => problem(`g${i}`, 'x'));
    expect(readyCondition({ object: guardrail('a'), problems: others, compiled: false }).message).toContain('Guardrail g4 and 3 more');
    const long = readyCondition({ object: guardrail('a'), problems: [problem('a', 'y'.repeat(10_000))], compiled: false });
    expect(long.message.length).toBe(4000);
  });
});

describe('status writer', () => {
  function recordingClient(fail: (path: string) => Error | undefined = () => undefined) {
    const patches: { path: string; body: any }[] = [];
    const client: KubeClient = {
      get: () => Promise.reject(new Error('unused')),
      watch: () => Promise.reject(new Error('unused')),
      jsonPatch: () => Promise.reject(new Error('unused')),
      create: () => Promise.reject(new Error('unused')),
      replace: () => Promise.reject(new Error('unused')),
      mergePatch: async (path, body) => {
        patches.push({ path, body });
        const error = fail(path);
        if (error) throw error;
        return {};
      },
    };
    return { client, patches };
  }
  const ok = { problems: [], set: {} } as unknown as CompileResult;
  const now = () => new Date('2026-05-01T10:00:00.123Z');

  it('writes a condition once, not again while it holds, and keeps lastTransitionTime when only the message changes', async () => {
    const { client, patches } = recordingClient();
    const writer = createStatusWriter({ client, logger: silentLogger, now });
    writer.sync(ok, [guardrail('a')]);
    writer.sync(ok, [guardrail('a')]);
    await writer.idle();
    expect(patches).toEqual([{ path: '/apis/tierguard.dev/v1alpha1/guardrails/a/status', body: { status: { conditions: [{ type: 'Ready', status: 'True', reason: 'Compiled', message: 'this Guardrail compiles and is in force', observedGeneration: 1, lastTransitionTime: '2026-05-01T10:00:00Z' }] } } }]);
    const current = patches[0]?.body.status.conditions[0];
    writer.sync(ok, [guardrail('a', 1, current)]);
    writer.sync(ok, [guardrail('a', 2, current)]);
    await writer.idle();
    expect(patches).toHaveLength(2);
    expect(patches[1]?.body.status.conditions[0]).toMatchObject({ observedGeneration: 2, lastTransitionTime: '2026-05-01T10:00:00Z' });
  });

  it('does not write what the object already carries (a restart, another replica)', async () => {
    const { client, patches } = recordingClient();
    const writer = createStatusWriter({ client, logger: silentLogger, now });
    writer.sync(ok, [guardrail('a', 1, { type: 'Ready', status: 'True', reason: 'Compiled', message: 'this Guardrail compiles and is in force', observedGeneration: 1, lastTransitionTime: '2020-01-01T00:00:00Z' })]);
    await writer.idle();
    expect(patches).toEqual([]);
  });

  it('tries a failed write again at the next compile; a deleted object is not an error', async () => {
    let failures = 1;
    const { client, patches } = recordingClient((path) => (path.includes('/gone/') ? new KubeApiError('not found', 404) : failures-- > 0 ? new KubeApiError('unavailable', 503) : undefined));
    const writer = createStatusWriter({ client, logger: silentLogger, now });
    writer.sync(ok, [guardrail('a'), guardrail('gone')]);
    await writer.idle();
    writer.sync(ok, [guardrail('a'), guardrail('gone')]);
    await writer.idle();
    expect(patches.map((patch) => patch.path.split('/')[5])).toEqual(['a', 'gone', 'a']);
  });
});
