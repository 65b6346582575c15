/**
 * Which Ready condition each Tier/Guardrail gets after a compile, and when it is written: only on
 * change, with failed writes tried again at the next compile. The client is a recording fake.
 */
import { describe, expect, it } from 'vitest';
import { decodePolicyObject, type ClusterPolicyObject } from '../../src/cluster/cluster-policies.js';
import { KubeApiError, type KubeClient } from '../../src/cluster/kube-client.js';
import { createStatusWriter, readyCondition } from '../../src/cluster/status-writer.js';
import type { Resolution, UnitOutcome } from '../../src/policy/resolve.js';
import type { PolicyProblem } from '../../src/policy/problems.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { waitFor } from '../helpers/wait-for.js';

const guardrail = (name: string, generation = 1, ready?: object): ClusterPolicyObject =>
  decodePolicyObject('Guardrail', { metadata: { name, generation }, spec: {}, ...(ready ? { status: { conditions: [ready] } } : {}) }) as ClusterPolicyObject;
const problem = (name: string, message: string, path = 'spec.tier'): PolicyProblem => ({ source: { file: `cluster:Guardrail/${name}`, document: 1 }, object: `Guardrail ${name}`, path, message });

const doc = (generation: number) => ({ source: { file: 'cluster:Guardrail/a', document: 1 }, value: { kind: 'Guardrail', metadata: { name: 'a', generation } } });

describe('readyCondition', () => {
  it.each([
    { name: 'in force: True with its generation', outcome: { state: 'latest' }, inForce: undefined, expected: { status: 'True', reason: 'Compiled', message: 'generation 3 is in force' } },
    { name: 'new and broken: Invalid, listing every problem', outcome: { state: 'out', reason: 'Invalid', problems: [problem('a', 'bad tier'), problem('a', 'bad key', 'spec.labels')] }, inForce: undefined, expected: { status: 'False', reason: 'Invalid', message: 'not in force: spec.tier: bad tier; spec.labels: bad key' } },
    { name: 'an edit that breaks it: Invalid, naming the generation still in force', outcome: { state: 'lastGood', problems: [problem('a', 'bad key', 'spec.labels')], inForce: [doc(2)] }, inForce: 2, expected: { status: 'False', reason: 'Invalid', message: 'generation 3 is not in force: spec.labels: bad key; generation 2 stays in force' } },
    { name: 'its tier does not exist: TierNotFound', outcome: { state: 'out', reason: 'TierNotFound', tier: 'compliance', problems: [problem('a', 'x')] }, inForce: undefined, expected: { status: 'False', reason: 'TierNotFound', message: 'not in force: tier "compliance" does not exist; this Guardrail comes into force when it is created' } },
    { name: 'its tier is not in force: TierNotReady', outcome: { state: 'out', reason: 'TierNotReady', tier: 'security', problems: [problem('a', 'x')] }, inForce: undefined, expected: { status: 'False', reason: 'TierNotReady', message: 'not in force: tier "security" is not in force itself (see its status)' } },
    { name: 'config files broken, this generation in force: True', outcome: { state: 'blocked' }, inForce: 3, expected: { status: 'True', reason: 'Compiled' } },
    { name: 'config files broken, newer generation: PolicySetInvalid', outcome: { state: 'blocked' }, inForce: 2, expected: { status: 'False', reason: 'PolicySetInvalid', message: 'not in force: the --config files do not compile, so no policy set can be made; the last good set stays in force' } },
  ])('$name', ({ outcome, inForce, expected }) => {
    const condition = readyCondition({ object: guardrail('a', 3), outcome: outcome as UnitOutcome, ...(inForce !== undefined ? { inForceGeneration: inForce } : {}) });
    expect(condition).toMatchObject({ type: 'Ready', observedGeneration: 3, ...expected });
  });

  it('bounds the message length', () => {
    const long = readyCondition({ object: guardrail('a'), outcome: { state: 'out', reason: 'Invalid', problems: [problem('a', 'y'.repeat(10_000))] } });
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
      delete: () => Promise.reject(new Error('unused')),
      mergePatch: async (path, body) => {
        patches.push({ path, body });
        const error = fail(path);
        if (error) throw error;
        return {};
      },
    };
    return { client, patches };
  }
  const inForce = (...names: string[]): Resolution => ({ result: { problems: [], warnings: [], warningsAbout: new Map(), namespaces: [], documents: [] }, complete: true, outcomes: new Map(names.map((name) => [`cluster:Guardrail/${name}`, { state: 'latest' }])) });
  const now = () => new Date('2026-05-01T10:00:00.123Z');

  it('writes a condition once, not again while it holds, and keeps lastTransitionTime when only the message changes', async () => {
    const { client, patches } = recordingClient();
    const writer = createStatusWriter({ client, logger: silentLogger, now });
    writer.sync(inForce('a'), [guardrail('a')]);
    writer.sync(inForce('a'), [guardrail('a')]);
    await writer.idle();
    expect(patches).toEqual([{ path: '/apis/tierguard.dev/v1alpha1/guardrails/a/status', body: { status: { observedGeneration: 1, conditions: [{ type: 'Ready', status: 'True', reason: 'Compiled', message: 'generation 1 is in force', observedGeneration: 1, lastTransitionTime: '2026-05-01T10:00:00Z' }] } } }]);
    const current = patches[0]?.body.status.conditions[0];
    writer.sync(inForce('a'), [guardrail('a', 1, current)]);
    writer.sync(inForce('a'), [guardrail('a', 2, current)]);
    await writer.idle();
    expect(patches).toHaveLength(2);
    expect(patches[1]?.body.status.conditions[0]).toMatchObject({ observedGeneration: 2, lastTransitionTime: '2026-05-01T10:00:00Z' });
  });

  it('writes a Guardrail\'s audit counts when they change, and the same counts again only once their time is a refresh old', async () => {
    const { client, patches } = recordingClient();
    const writer = createStatusWriter({ client, logger: silentLogger, now });
    const counts = (violations: number) => new Map([['a', { tier: 't', violations, violationsByMode: { Enforce: violations, Warn: 0, Audit: 0 }, errors: 0, namespacesNotIsolated: 1 }]]);
    const at = (minutes: number) => new Date(Date.UTC(2026, 4, 1, 10, minutes));
    writer.syncAudit(counts(2), at(0), [guardrail('a'), guardrail('b')], 3_600_000);
    await writer.idle();
    expect(patches.map((patch) => [patch.path.split('/')[5], patch.body.status.audit])).toEqual([
      ['a', { violations: 2, violationsByMode: { Enforce: 2, Warn: 0, Audit: 0 }, errors: 0, namespacesNotIsolated: 1, lastAuditTime: '2026-05-01T10:00:00Z' }],
      ['b', { violations: 0, violationsByMode: { Enforce: 0, Warn: 0, Audit: 0 }, errors: 0, namespacesNotIsolated: 0, lastAuditTime: '2026-05-01T10:00:00Z' }],
    ]);
    writer.syncAudit(counts(2), at(30), [guardrail('a'), guardrail('b')], 3_600_000);
    await writer.idle();
    expect(patches).toHaveLength(2);
    writer.syncAudit(counts(1), at(40), [guardrail('a'), guardrail('b')], 3_600_000);
    await writer.idle();
    expect(patches.slice(2).map((patch) => [patch.path.split('/')[5], patch.body.status.audit.violations])).toEqual([['a', 1]]);
    writer.syncAudit(counts(1), at(61), [guardrail('a'), guardrail('b')], 3_600_000);
    await writer.idle();
    expect(patches.slice(3).map((patch) => [patch.path.split('/')[5], patch.body.status.audit.lastAuditTime])).toEqual([['b', '2026-05-01T11:01:00Z']]);
  });

  it('writes nothing while another replica leads, and what the last syncs asked for when it takes over', async () => {
    const { client, patches } = recordingClient();
    const writer = createStatusWriter({ client, logger: silentLogger, now });
    writer.setLeading(false);
    writer.sync(inForce('a'), [guardrail('a')]);
    writer.syncAudit(new Map(), new Date(0), [guardrail('a')], 3_600_000);
    await writer.idle();
    expect(patches).toEqual([]);
    writer.setLeading(true);
    await writer.idle();
    expect(patches.map((patch) => Object.keys(patch.body.status).sort().join())).toEqual(['conditions,observedGeneration', 'audit']);
  });

  it('does not write what the object already carries (a restart, another replica)', async () => {
    const { client, patches } = recordingClient();
    const writer = createStatusWriter({ client, logger: silentLogger, now });
    writer.sync(inForce('a'), [guardrail('a', 1, { type: 'Ready', status: 'True', reason: 'Compiled', message: 'generation 1 is in force', observedGeneration: 1, lastTransitionTime: '2020-01-01T00:00:00Z' })]);
    await writer.idle();
    expect(patches).toEqual([]);
  });

  it('on stop, drops the writes not yet started and waits for the one in progress; the next leader writes what was dropped', async () => {
    const answers: Array<() => void> = [];
    const { client, patches } = recordingClient();
    const slowClient: KubeClient = { ...client, mergePatch: async (path, body) => { await new Promise<void>((resolve) => answers.push(resolve)); return client.mergePatch(path, body); } };
    const names = Array.from({ length: 50 }, (_, i) => `g${i}`);
    const objects = names.map((name) => guardrail(name));
    const writer = createStatusWriter({ client: slowClient, logger: silentLogger, now });
    writer.sync(inForce(...names), objects);
    // The first write is in progress (waiting for its answer) when the stop comes.
    await waitFor(() => answers.length === 1, { what: 'the first write to start' });
    let stopped = false;
    const stopping = writer.stop().then(() => { stopped = true; });
    await Promise.resolve();
    expect(stopped).toBe(false);
    answers[0]!();
    await stopping;
    expect(patches.map((patch) => patch.path.split('/')[5])).toEqual(['g0']);
    writer.sync(inForce(...names), objects);
    await writer.idle();
    expect(patches).toHaveLength(1);

    const next = createStatusWriter({ client, logger: silentLogger, now });
    next.sync(inForce(...names), objects);
    await next.idle();
    expect(patches.slice(1).map((patch) => patch.path.split('/')[5])).toEqual(names);
  });

  it('drops the writes queued while leading when the lease is lost, and queues them again when it takes over', async () => {
    const answers: Array<() => void> = [];
    const { client, patches } = recordingClient();
    const slowClient: KubeClient = { ...client, mergePatch: async (path, body) => { await new Promise<void>((resolve) => answers.push(resolve)); return client.mergePatch(path, body); } };
    const names = ['a', 'b', 'c'];
    const writer = createStatusWriter({ client: slowClient, logger: silentLogger, now });
    writer.sync(inForce(...names), names.map((name) => guardrail(name)));
    await waitFor(() => answers.length === 1, { what: 'the first write to start' });
    writer.setLeading(false);
    answers.shift()!();
    await writer.idle();
    expect(patches.map((patch) => patch.path.split('/')[5])).toEqual(['a']);
    writer.setLeading(true);
    for (let done = 0; done < names.length; done += 1) {
      await waitFor(() => answers.length === 1, { what: `write ${done + 1} after the takeover to start` });
      answers.shift()!();
    }
    await writer.idle();
    expect(patches.map((patch) => patch.path.split('/')[5])).toEqual(['a', 'a', 'b', 'c']);
  });

  it('tries a failed write again at the next compile; a deleted object is not an error', async () => {
    let failures = 1;
    const { client, patches } = recordingClient((path) => (path.includes('/gone/') ? new KubeApiError('not found', 404) : failures-- > 0 ? new KubeApiError('unavailable', 503) : undefined));
    const writer = createStatusWriter({ client, logger: silentLogger, now });
    writer.sync(inForce('a', 'gone'), [guardrail('a'), guardrail('gone')]);
    await writer.idle();
    writer.sync(inForce('a', 'gone'), [guardrail('a'), guardrail('gone')]);
    await writer.idle();
    expect(patches.map((patch) => patch.path.split('/')[5])).toEqual(['a', 'gone', 'a']);
  });
});
