/**
 * The ledger of the background audit (issue 12): kept current one object at a time, it must say
 * what a one-shot audit of the same objects says, and forget what is gone.
 */
import { describe, expect, it } from 'vitest';
import type { NamespaceInfo } from '../../src/api/kube.js';
import { compactNamespace } from '../../src/cluster/namespace-cache.js';
import { staticNamespaceLookup } from '../../src/policy/namespaces.js';
import { createAuditLedger, type LedgerState } from '../../src/review/audit-ledger.js';
import { auditObjects } from '../../src/review/audit.js';
import { guardrailCounts, violationSeries } from '../../src/review/audit-counts.js';
import type { ManifestObject } from '../../src/review/manifest-request.js';
import { namespace, networkPolicy, pod, policySet } from './audit-fixtures.js';

const set = policySet();
const engine = { excludedNamespaces: new Set(['kube-system']) };
const NAMESPACES = [namespace('prod-a', { env: 'prod' }), namespace('shop', { env: 'staging' }), namespace('kube-system', {})];
const backend = (name: string, extra: Record<string, string> = {}) => pod('prod-a', name, { team: 'a', tier: 'backend', ...extra });
const isolateAll = networkPolicy('prod-a', 'isolate', { podSelector: {}, policyTypes: ['Ingress', 'Egress'] });

function ledger() {
  const infos = NAMESPACES.map((object) => compactNamespace(object) as NamespaceInfo);
  return createAuditLedger({ policy: () => set, namespaces: staticNamespaceLookup(infos), engine });
}

const withoutLines = <T extends { lines: readonly string[] }>(results: readonly T[]) => results.map(({ lines: _lines, ...result }) => result);
const gaps = (state: { isolation: readonly { guardrail: string; namespace: string; direction: string; pods: number }[] }) =>
  state.isolation.map(({ guardrail, namespace: ns, direction, pods }) => `${guardrail} ${ns} ${direction} ${pods}`).sort();

describe('the audit ledger', () => {
  it('after full lists, says what a one-shot audit of the same objects says', async () => {
    const objects = [
      ...NAMESPACES,
      backend('b-0'), backend('b-1', { app: 'db' }), pod('shop', 'no-team', {}), pod('shop', 'ok', { team: 'a' }, 'docker.io/x:1'),
      pod('kube-system', 'system', {}),
      networkPolicy('prod-a', 'too-open', { podSelector: {}, policyTypes: ['Egress'], egress: [{}] }),
    ] as ManifestObject[];
    const book = ledger();
    for (const kind of ['Namespace', 'Pod', 'NetworkPolicy']) await book.replaceKind(kind, objects.filter((object) => object.kind === kind));
    book.refreshIsolation('all');
    const state = book.state(new Date(0));
    const once = await auditObjects({ set, objects, namespaces: [], engine });

    expect(withoutLines(state.results).sort((a, b) => a.name.localeCompare(b.name))).toEqual(withoutLines(once.results).sort((a, b) => a.name.localeCompare(b.name)));
    expect(gaps(state)).toEqual(gaps(once));
    expect(gaps(state)).toEqual(['prod-isolation prod-a Ingress 2']);
    // Evaluated per namespace: kube-system (and its Namespace) is excluded, the Namespaces are cluster-scoped ('').
    expect(Object.fromEntries(state.evaluated)).toEqual({ '': 2, 'prod-a': 3, shop: 2 });
    expect([...state.evaluated.values()].reduce((a, b) => a + b)).toBe(once.evaluated);
    expect(book.size()).toMatchObject({ pods: 4, podGroups: 4, results: once.results.length });
  });

  it('follows one object at a time: a fixed object leaves, a broken one comes, a deleted one goes', async () => {
    const book = ledger();
    await book.replaceKind('Pod', [pod('shop', 'p', {})] as ManifestObject[]);
    expect(book.state(new Date(0)).results.map((result) => result.name)).toEqual(['p']);

    await book.put(pod('shop', 'p', { team: 'a' }) as ManifestObject);
    expect(book.state(new Date(0)).results).toEqual([]);
    expect(book.size()).toMatchObject({ objects: 1, pods: 1 });

    await book.put(pod('shop', 'q', {}) as ManifestObject);
    expect(book.state(new Date(0)).results.map((result) => result.name)).toEqual(['q']);

    book.remove(pod('shop', 'q', {}) as ManifestObject);
    book.remove(pod('shop', 'p', {}) as ManifestObject);
    expect(book.state(new Date(0)).results).toEqual([]);
    expect(book.size()).toMatchObject({ objects: 0, pods: 0, podGroups: 0 });
  });

  it('keeps the counts and gauge series current as results come and go: the same as counting the state afresh', async () => {
    const book = ledger();
    const same = (state: LedgerState) => {
      expect(state.counts).toEqual(guardrailCounts(state));
      expect(state.series).toEqual(violationSeries(state));
      return state;
    };
    await book.replaceKind('Pod', [pod('shop', 'a', {}), pod('shop', 'b', {}), backend('c')] as ManifestObject[]);
    await book.put(networkPolicy('prod-a', 'too-open', { podSelector: {}, policyTypes: ['Egress'], egress: [{}] }) as ManifestObject);
    book.refreshIsolation('all');
    const first = same(book.state(new Date(0)));
    expect(first.counts?.get('team-label')).toMatchObject({ violations: 2, violationsByMode: { Enforce: 2, Warn: 0, Audit: 0 } });
    // too-open selects every pod for Egress: isolated that way, not for Ingress.
    expect(first.counts?.get('prod-egress')).toMatchObject({ violations: 1, violationsByMode: { Audit: 1 }, namespacesNotIsolated: 0 });
    expect(first.counts?.get('prod-isolation')).toMatchObject({ violations: 0, namespacesNotIsolated: 1 });

    await book.put(pod('shop', 'a', { team: 'x' }) as ManifestObject);
    book.remove(networkPolicy('prod-a', 'too-open', {}) as ManifestObject);
    book.refreshIsolation('changed');
    const next = same(book.state(new Date(0)));
    expect(next.counts?.get('team-label')).toMatchObject({ violations: 1 });
    expect(next.counts?.get('prod-egress')).toMatchObject({ violations: 0, namespacesNotIsolated: 1 });
    expect(next.series?.some((series) => series.guardrail === 'prod-egress')).toBe(false);
    expect(next.changed).toEqual(new Set(['shop', 'prod-a']));
  });

  it('recomputes isolation where Pods or NetworkPolicies changed', async () => {
    const book = ledger();
    await book.replaceKind('Pod', [backend('b-0')] as ManifestObject[]);
    book.refreshIsolation('all');
    expect(gaps(book.state(new Date(0)))).toEqual(['prod-egress prod-a Egress 1', 'prod-isolation prod-a Ingress 1']);

    await book.put(isolateAll as ManifestObject);
    book.refreshIsolation('changed');
    expect(gaps(book.state(new Date(0)))).toEqual([]);

    book.remove(isolateAll as ManifestObject);
    await book.put(backend('b-1', { app: 'db' }) as ManifestObject);
    book.refreshIsolation('changed');
    expect(gaps(book.state(new Date(0)))).toEqual(['prod-egress prod-a Egress 2', 'prod-isolation prod-a Ingress 2']);

    // A relabelled Pod moves between label groups: still two pods, not three.
    await book.put(backend('b-1', { app: 'api' }) as ManifestObject);
    book.refreshIsolation('changed');
    expect(gaps(book.state(new Date(0)))).toEqual(['prod-egress prod-a Egress 2', 'prod-isolation prod-a Ingress 2']);
    expect(book.size()).toMatchObject({ pods: 2, podGroups: 2 });
  });

  it('holds many Pods of one namespace the same way (past 64 they are also indexed by name)', async () => {
    const book = ledger();
    const many = Array.from({ length: 100 }, (_, i) => backend(`b-${i}`, { app: ['api', 'db', 'web'][i % 3] as string }));
    await book.replaceKind('Pod', many as ManifestObject[]);
    book.refreshIsolation('all');
    expect(book.size()).toMatchObject({ pods: 100, podGroups: 3 });
    expect(gaps(book.state(new Date(0)))).toContain('prod-isolation prod-a Ingress 100');
    // Relabel one, delete two, list again without ten.
    await book.put(backend('b-0', { app: 'cache' }) as ManifestObject);
    book.remove(backend('b-1') as ManifestObject);
    book.remove(backend('b-2') as ManifestObject);
    expect(book.size()).toMatchObject({ pods: 98, podGroups: 4 });
    await book.replaceKind('Pod', many.slice(10) as ManifestObject[]);
    book.refreshIsolation('changed');
    expect(book.size()).toMatchObject({ pods: 90, podGroups: 3 });
    expect(gaps(book.state(new Date(0)))).toContain('prod-isolation prod-a Ingress 90');
  });

  it('a list of one namespace forgets only that namespace\'s objects of that kind', async () => {
    const book = ledger();
    await book.replaceKind('Pod', [pod('shop', 'a', {}), pod('prod-a', 'b', { tier: 'backend' })] as ManifestObject[]);
    expect(book.state(new Date(0)).results.map((result) => `${result.namespace}/${result.name}`).sort()).toEqual(['prod-a/b', 'shop/a']);
    await book.replaceKind('Pod', [], 'shop');
    expect(book.state(new Date(0)).results.map((result) => `${result.namespace}/${result.name}`)).toEqual(['prod-a/b']);
  });

  it('pauses during a long list when asked to, and still judges every object', async () => {
    let pauses = 0;
    const infos = NAMESPACES.map((object) => compactNamespace(object) as NamespaceInfo);
    const book = createAuditLedger({ policy: () => set, namespaces: staticNamespaceLookup(infos), engine, pause: async () => { pauses++; await new Promise((resolve) => setImmediate(resolve)); } });
    const pods = Array.from({ length: 3000 }, (_, i) => pod('shop', `p-${i}`, i % 2 === 0 ? {} : { team: 'a' }));
    await book.replaceKind('Pod', pods as ManifestObject[]);
    expect(book.state(new Date(0)).results).toHaveLength(1500);
    // 3,000 reviews take far longer than the 10 ms between pauses on any machine.
    expect(pauses).toBeGreaterThan(0);
  });
});
