/**
 * The policy lifecycle as kubectl drives it, against a real kube-apiserver: Tiers and Guardrails
 * applied in any order and in one go, a Guardrail waiting for its Tier, Tier deletion refused
 * while Guardrails name it, conflicts refused, and one broken object never blocking the others.
 */
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { REPO_DIR } from '../helpers/fixtures.js';
import { CLUSTER_START_TIMEOUT_MS, metricSum, startCluster, startWebhook, waitFor, type TestCluster, type TierguardProcess } from '../helpers/kube-cluster.js';
import { describeCluster } from '../helpers/describe-cluster.js';

const tier = (name: string, priority: number) => ({ apiVersion: 'tierguard.dev/v1alpha1', kind: 'Tier', metadata: { name }, spec: { priority } });
const teamLabel = (name: string, tierName: string, key = 'team') => ({
  apiVersion: 'tierguard.dev/v1alpha1',
  kind: 'Guardrail',
  metadata: { name },
  spec: { tier: tierName, priority: 10, labels: { match: { resources: ['Pod'], namespaces: { matchLabels: { guarded: name } } }, required: [{ key }] } },
});
const namespace = (name: string, labels: Record<string, string>) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels } });
const pod = (ns: string, labels: Record<string, string> = {}) => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'app', namespace: ns, labels }, spec: { containers: [{ name: 'app', image: 'registry.example/app:1' }] } });
const yaml = (...objects: object[]) => objects.map((object) => stringify(object)).join('---\n');

describeCluster('the policy lifecycle as kubectl drives it', () => {
  let cluster: TestCluster;
  let tierguard: TierguardProcess;

  /** `status.conditions[Ready]` of a Tier or Guardrail, as kubectl shows it. */
  async function ready(kind: 'tier' | 'guardrail', name: string): Promise<{ status?: string; reason?: string; message?: string; observedGeneration?: number }> {
    const result = await cluster.kubectl(['get', kind, name, '-o', 'jsonpath={.status.conditions[?(@.type=="Ready")]}']);
    return result.code === 0 && result.stdout ? JSON.parse(result.stdout) : {};
  }
  const waitReady = (kind: 'tier' | 'guardrail', name: string, expected: Record<string, unknown>) =>
    waitFor(async () => {
      const condition = await ready(kind, name);
      return Object.entries(expected).every(([key, value]) => (condition as Record<string, unknown>)[key] === value) ? condition : undefined;
    }, { what: `${kind} ${name} Ready ${JSON.stringify(expected)}`, timeoutMs: 30_000 });
  /** Whether a dry-run Pod CREATE is refused by tierguard. */
  const podRefused = async (ns: string) => (await cluster.kubectl(['create', '--dry-run=server', '-f', '-'], { input: JSON.stringify(pod(ns)) })).code !== 0;
  const exists = async (kind: string, name: string) => (await cluster.kubectl(['get', kind, name, '-o', 'name'])).code === 0;

  beforeAll(async () => {
    cluster = await startCluster();
    tierguard = await startWebhook(cluster);
  }, CLUSTER_START_TIMEOUT_MS);

  afterAll(async () => { await cluster?.stop(); }, 60_000);

  it.each([
    { dir: 'examples/policies', tiers: ['security', 'platform'], guardrails: ['prod-isolation', 'prod-egress', 'domain-labels', 'owner-label', 'data-classification'] },
    { dir: 'policies/default', tiers: ['security', 'platform'], guardrails: ['domain-labels', 'recommended-app-name'] },
  ])('applies $dir with one kubectl apply (every object ends Ready) and deletes it with one kubectl delete -f', async ({ dir, tiers, guardrails }) => {
    const applied = await cluster.kubectl(['apply', '-f', path.join(REPO_DIR, dir)]);
    expect(applied.code, applied.stderr).toBe(0);
    for (const name of tiers) await waitReady('tier', name, { status: 'True' });
    for (const name of guardrails) await waitReady('guardrail', name, { status: 'True', reason: 'Compiled' });
    // Guardrails come before their Tiers in these folders, so kubectl deletes them first.
    const deleted = await cluster.kubectl(['delete', '-f', path.join(REPO_DIR, dir)]);
    expect(deleted.code, deleted.stderr).toBe(0);
    expect((await cluster.kubectl(['get', 'tiers,guardrails', '-o', 'name'])).stdout).toBe('');
  });

  it('applies a file holding a Tier and its Guardrail, five times over, and it is refused none of them', async () => {
    await cluster.apply(namespace('lc-once', { guarded: 'once-team' }));
    for (let round = 1; round <= 5; round += 1) {
      const file = yaml(tier(`once-${round}`, 500 + round), teamLabel('once-team', `once-${round}`));
      const result = await cluster.kubectl(['apply', '-f', '-'], { input: file });
      expect(result.code, `round ${round}: ${result.stderr}`).toBe(0);
      expect(result.stderr).not.toMatch(/does not exist/);
      await waitReady('guardrail', 'once-team', { status: 'True' });
      expect(await podRefused('lc-once')).toBe(true);
      const removed = await cluster.kubectl(['delete', '-f', '-'], { input: yaml(teamLabel('once-team', `once-${round}`), tier(`once-${round}`, 500 + round)) });
      expect(removed.code, `round ${round}: ${removed.stderr}`).toBe(0);
    }
  });

  it('accepts kubectl apply --dry-run=server of a new Tier and its Guardrail, with a warning, storing nothing', async () => {
    const result = await cluster.kubectl(['apply', '--dry-run=server', '-f', '-'], { input: yaml(tier('dry', 600), teamLabel('dry-team', 'dry')) });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toContain('Warning: tier "dry" does not exist yet: this Guardrail is not in force until it is');
    expect(result.stdout).toMatch(/tier\.tierguard\.dev\/dry created \(server dry run\)/);
    expect(await exists('tier', 'dry')).toBe(false);
    expect(await exists('guardrail', 'dry-team')).toBe(false);
  });

  it('admits a Guardrail whose Tier does not exist yet, keeps it out of force (TierNotFound), and enforces it by itself once the Tier appears', async () => {
    await cluster.apply(namespace('lc-late', { guarded: 'late-team' }));
    const result = await cluster.kubectl(['apply', '-f', '-'], { input: yaml(teamLabel('late-team', 'late')) });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toContain('Warning: tier "late" does not exist yet: this Guardrail is not in force until it is');
    await waitReady('guardrail', 'late-team', { status: 'False', reason: 'TierNotFound' });
    expect((await ready('guardrail', 'late-team')).message).toBe('not in force: tier "late" does not exist; this Guardrail comes into force when it is created');
    expect(await podRefused('lc-late')).toBe(false);

    await cluster.apply(tier('late', 700));
    await waitReady('guardrail', 'late-team', { status: 'True', reason: 'Compiled' });
    await waitFor(() => podRefused('lc-late'), { what: 'the late guardrail enforced', timeoutMs: 30_000 });
  });

  it('refuses deleting a Tier that Guardrails still name, naming them; the Guardrail and then the Tier go with one kubectl delete -f', async () => {
    const refused = await cluster.kubectl(['delete', 'tier', 'late']);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('Tier late cannot be deleted: 1 Guardrail still names it:');
    expect(refused.stderr).toContain('- Guardrail late-team: spec.tier: still names tier "late"; delete or move it first');
    expect(await exists('tier', 'late')).toBe(true);

    const both = await cluster.kubectl(['delete', '-f', '-'], { input: yaml(teamLabel('late-team', 'late'), tier('late', 700)) });
    expect(both.code, both.stderr).toBe(0);
    expect(await exists('tier', 'late')).toBe(false);
  });

  it('refuses a second Tier with a priority already taken (judged on the Tiers tierguard watches), or keeps it out of force when the watch had not seen the first yet', async () => {
    const result = await cluster.kubectl(['apply', '-f', '-'], { input: yaml(tier('first', 800), tier('second', 800)) });
    expect(result.stdout).toContain('tier.tierguard.dev/first created');
    if (result.code !== 0) {
      expect(result.stderr).toContain('Tier second is invalid: 1 problem:\n- spec.priority: priority 800 is already used by tier first');
      expect(await exists('tier', 'second')).toBe(false);
      return;
    }
    // The watch lagged (milliseconds): the newer Tier is stored but out of force, and says why.
    await waitReady('tier', 'second', { status: 'False', reason: 'Invalid' });
    expect((await ready('tier', 'second')).message).toContain('priority 800 is already used by tier first');
    await waitReady('tier', 'first', { status: 'True' });
    // The same state as after a refusal, for the tests that follow.
    expect((await cluster.kubectl(['delete', 'tier', 'second'])).code).toBe(0);
  });

  it('keeps every other object working when a broken object was stored behind tierguard\'s back, and keeps a broken edit\'s previous generation in force', async () => {
    await cluster.apply([namespace('lc-broken', { guarded: 'steady' }), tier('base', 900), teamLabel('steady', 'base')]);
    await waitReady('guardrail', 'steady', { status: 'True', observedGeneration: 1 });

    // tierguard is not asked while its webhooks are away: what it would refuse gets stored.
    await cluster.unregisterWebhooks('tierguard');
    const celBroken = { ...teamLabel('cel-broken', 'base'), spec: { tier: 'base', priority: 20, validations: [{ resources: ['Pod'], expression: 'object.spec.containers.all(c, c.image.startsWith(1)', message: 'm' }] } };
    await waitFor(async () => (await cluster.kubectl(['apply', '-f', '-'], { input: yaml(celBroken, teamLabel('steady', 'base', '-bad key')) })).code === 0, { what: 'the broken objects stored', timeoutMs: 30_000 });
    await cluster.registerWebhooks({ name: 'tierguard', url: tierguard.url, caBundle: tierguard.caCert });

    await waitReady('guardrail', 'cel-broken', { status: 'False', reason: 'Invalid' });
    expect((await ready('guardrail', 'cel-broken')).message).toMatch(/^not in force: spec\.validations\[0\]\.expression: CEL error at line 1/);
    await waitReady('guardrail', 'steady', { status: 'False', reason: 'Invalid', observedGeneration: 2 });
    expect((await ready('guardrail', 'steady')).message).toMatch(/^generation 2 is not in force: spec\.labels\.required\[0\]\.key: .*; generation 1 stays in force$/);
    // Generation 1 of steady (team required) is still enforced.
    expect(await podRefused('lc-broken')).toBe(true);
    expect((await ready('tier', 'base')).status).toBe('True');

    // Other objects' changes still take effect: a new Guardrail comes into force.
    await cluster.apply([namespace('lc-other', { guarded: 'other' }), teamLabel('other', 'base')]);
    await waitReady('guardrail', 'other', { status: 'True' });
    await waitFor(() => podRefused('lc-other'), { what: 'the other guardrail enforced', timeoutMs: 30_000 });

    // Fixing the broken edit puts generation 3 in force.
    await cluster.apply(teamLabel('steady', 'base', 'owner'));
    await waitReady('guardrail', 'steady', { status: 'True', observedGeneration: 3 });
    expect((await cluster.kubectl(['get', 'guardrail', 'steady', '-o', 'jsonpath={.status.observedGeneration}'])).stdout).toBe('3');
    expect((await ready('guardrail', 'cel-broken')).status).toBe('False');

    // No write storm: a recompile that changes nothing for an object writes nothing to it.
    const version = async (name: string) => (await cluster.kubectl(['get', 'guardrail', name, '-o', 'jsonpath={.metadata.resourceVersion}'])).stdout;
    const before = await version('steady');
    const reloads = async () => metricSum(await tierguard.metrics(), 'tierguard_policy_reloads_total');
    const compiles = await reloads();
    await cluster.kubectl(['label', 'guardrail', 'other', 'owner=platform']);
    await waitFor(async () => ((await reloads()) > compiles ? true : undefined), { what: 'the recompile after a label change', timeoutMs: 30_000 });
    await waitReady('guardrail', 'other', { status: 'True' });
    expect(await version('steady')).toBe(before);
  });
});
