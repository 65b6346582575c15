/**
 * The report writer against an in-memory store of reports (a fake KubeClient): what it writes,
 * what it leaves alone, pacing, superseded states, conflicts and missing CRDs. The real API
 * server's side (schemas, resourceVersions, label selectors) is real-cluster-reports.test.ts.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { KubeApiError, type KubeClient } from '../../src/cluster/kube-client.js';
import { createReportWriter, type ReportWriter } from '../../src/cluster/report-writer.js';
import type { AuditResult, AuditState } from '../../src/review/audit.js';
import { waitFor } from '../helpers/wait-for.js';
import { recordingLogger } from './support.js';

const PATH = /^\/apis\/([^/]+)\/([^/]+)(?:\/namespaces\/([^/]+))?\/([^/]+)(?:\/([^/]+))?$/;

/** Reports by path, with resourceVersions; `missing` plurals answer 404 as a CRD not installed does. */
function reportStore() {
  const objects = new Map<string, any>();
  const writes: { method: string; path: string; body?: any; at: number }[] = [];
  const missing = new Set<string>();
  const lists: string[] = [];
  let rv = 0;
  /** While set, every write waits for it after being recorded. */
  let gate: Promise<void> | undefined;
  const pause = (): (() => void) => {
    let open = () => {};
    gate = new Promise((resolve) => { open = resolve; });
    return () => { gate = undefined; open(); };
  };
  const parse = (path: string) => {
    const [, group, version, namespace, plural, name] = PATH.exec(path) ?? [];
    if (!plural || missing.has(plural)) throw new KubeApiError(`${path}: 404 NotFound: the server could not find the requested resource`, 404, 'NotFound');
    return { prefix: `/apis/${group}/${version}`, namespace, plural, name };
  };
  const at = (prefix: string, plural: string, namespace: string | undefined, name: string) => `${prefix}${namespace ? `/namespaces/${namespace}` : ''}/${plural}/${name}`;
  const notFound = (path: string) => new KubeApiError(`${path}: 404 NotFound: not found`, 404, 'NotFound');
  const conflict = (path: string) => new KubeApiError(`${path}: 409 Conflict: the object has been modified`, 409, 'Conflict');
  const store = (path: string, body: any) => {
    const object = { ...structuredClone(body), metadata: { ...body.metadata, resourceVersion: String((rv += 1)) } };
    objects.set(path, object);
    return structuredClone(object);
  };
  const client: KubeClient = {
    async get(path, options) {
      if (options?.query?.labelSelector !== undefined) lists.push(path);
      const { prefix, namespace, plural, name } = parse(path);
      if (name) {
        const object = objects.get(path);
        if (!object) throw notFound(path);
        return structuredClone(object);
      }
      const [key, value] = String(options?.query?.labelSelector ?? '=').split('=');
      const items = [...objects].filter(([where, object]) => where.startsWith(prefix) && where.split('/').at(-2) === plural && (!namespace || object.metadata.namespace === namespace) && (!key || object.metadata.labels?.[key] === value));
      return { metadata: { resourceVersion: String(rv) }, items: items.map(([, object]) => structuredClone(object)) };
    },
    async create(path, body: any) {
      const { prefix, namespace, plural } = parse(path);
      const where = at(prefix, plural, namespace, body.metadata.name);
      writes.push({ method: 'POST', path: where, body, at: Date.now() });
      await gate;
      if (objects.has(where)) throw new KubeApiError(`${where}: 409 AlreadyExists`, 409, 'AlreadyExists');
      return store(where, body);
    },
    async replace(path, body: any) {
      parse(path);
      writes.push({ method: 'PUT', path, body, at: Date.now() });
      await gate;
      const current = objects.get(path);
      if (!current) throw notFound(path);
      if (current.metadata.resourceVersion !== body.metadata.resourceVersion) throw conflict(path);
      return store(path, body);
    },
    async delete(path) {
      parse(path);
      writes.push({ method: 'DELETE', path, at: Date.now() });
      if (!objects.delete(path)) throw notFound(path);
      return {};
    },
    mergePatch: () => Promise.reject(new Error('unused')),
    jsonPatch: () => Promise.reject(new Error('unused')),
    watch: () => Promise.reject(new Error('unused')),
  };
  return { client, objects, writes, missing, lists, store, pause };
}

const T0 = new Date('2026-05-01T10:00:00Z');
const pod = (namespace: string, name: string, rule = 'label:segment.tierguard.dev/domain'): AuditResult => ({
  apiVersion: 'v1', kind: 'Pod', namespace, name, uid: `uid-${namespace}-${name}`, lines: [],
  violations: [{ tier: 'platform', guardrail: 'domain-labels', rule, mode: 'Enforce', path: 'metadata.labels[segment.tierguard.dev/domain]', message: `missing required label (${rule})`, compliance: [] }],
});
const namespaceObject = (name: string): AuditResult => ({ ...pod('', name), apiVersion: 'v1', kind: 'Namespace', namespace: '', name });
const state = (results: AuditResult[], time = T0): AuditState => ({ results, isolation: [], evaluated: new Map(), time });

const POLR = '/apis/wgpolicyk8s.io/v1alpha2';
const FAST = { initialMs: 5, maxMs: 20 };

describe('report writer', () => {
  const writers: ReportWriter[] = [];
  const writer = (options: Partial<Parameters<typeof createReportWriter>[0]> & { client: KubeClient }) => {
    const created = createReportWriter({ format: 'policyreport', logger: recordingLogger(), minWriteIntervalMs: 0, retry: FAST, ...options });
    writers.push(created);
    return created;
  };
  afterEach(() => {
    for (const created of writers.splice(0)) created.stop();
  });

  it('creates one report per namespace with entries and one cluster report, and writes nothing for the same state again', async () => {
    const { client, objects, writes } = reportStore();
    const reports = writer({ client });
    reports.sync(state([pod('a', 'p'), pod('b', 'p'), namespaceObject('a')]));
    await reports.idle();
    expect(writes.map(({ method, path }) => `${method} ${path}`).sort()).toEqual([
      `POST ${POLR}/clusterpolicyreports/tierguard`,
      `POST ${POLR}/namespaces/a/policyreports/tierguard`,
      `POST ${POLR}/namespaces/b/policyreports/tierguard`,
    ]);
    expect(objects.get(`${POLR}/namespaces/a/policyreports/tierguard`)).toMatchObject({ kind: 'PolicyReport', results: [{ policy: 'domain-labels', result: 'fail' }] });
    reports.sync(state([pod('b', 'p'), namespaceObject('a'), pod('a', 'p')], new Date('2026-05-01T11:00:00Z')));
    await reports.idle();
    expect(writes).toHaveLength(3);
  });

  it('replaces a report when an entry goes, and deletes it when none is left', async () => {
    const { client, objects, writes } = reportStore();
    const reports = writer({ client });
    reports.sync(state([pod('a', 'p'), pod('a', 'q')]));
    await reports.idle();
    reports.sync(state([pod('a', 'q')]));
    await reports.idle();
    expect(writes.at(-1)).toMatchObject({ method: 'PUT', path: `${POLR}/namespaces/a/policyreports/tierguard` });
    expect(objects.get(`${POLR}/namespaces/a/policyreports/tierguard`).results.map((entry: any) => entry.resources[0].name)).toEqual(['q']);
    reports.sync(state([]));
    await reports.idle();
    expect(writes.at(-1)).toMatchObject({ method: 'DELETE', path: `${POLR}/namespaces/a/policyreports/tierguard` });
    expect(objects.size).toBe(0);
  });

  it('rebuilds only the namespaces a state says changed, adding up changes of states it never built', async () => {
    const { client, objects, pause } = reportStore();
    const reports = writer({ client });
    reports.sync(state([pod('a', 'p'), pod('b', 'p'), pod('c', 'p')]));
    await reports.idle();
    const open = pause();
    // A write is under way (c's change): the next two states are never built one by one.
    reports.sync({ ...state([pod('a', 'p'), pod('b', 'p')]), changed: new Set(['c']) });
    await waitFor(() => true, { what: 'the write to start' });
    reports.sync({ ...state([pod('a', 'q'), pod('b', 'p')]), changed: new Set(['a']) });
    // b differs here, but the state says it did not change: its report is not rebuilt.
    reports.sync({ ...state([pod('a', 'q'), pod('b', 'p'), pod('b', 'r')]), changed: new Set(['d']) });
    open();
    await reports.idle();
    const names = (namespace: string) => objects.get(`${POLR}/namespaces/${namespace}/policyreports/tierguard`)?.results.map((entry: any) => entry.resources[0].name);
    expect(names('a')).toEqual(['q']);
    expect(names('b')).toEqual(['p']);
    expect(names('c')).toBeUndefined();
    // Without `changed`, everything is built again.
    reports.sync(state([pod('a', 'q'), pod('b', 'p'), pod('b', 'r')]));
    await reports.idle();
    expect(names('b')).toEqual(['p', 'r']);
  });

  it('writes at most one report per minWriteIntervalMs', async () => {
    const { client, writes } = reportStore();
    const reports = writer({ client, minWriteIntervalMs: 40 });
    reports.sync(state(['a', 'b', 'c', 'd'].map((namespace) => pod(namespace, 'p'))));
    await reports.idle();
    expect(writes).toHaveLength(4);
    // A lower bound only: timers never fire early by more than a millisecond's rounding.
    for (let index = 1; index < writes.length; index += 1) expect(writes[index]!.at - writes[index - 1]!.at).toBeGreaterThanOrEqual(39);
  });

  it('never writes the content of a state a newer sync superseded', async () => {
    const { client, writes, pause } = reportStore();
    const reports = writer({ client, minWriteIntervalMs: 30 });
    const namespaces = ['a', 'b', 'c', 'd', 'e'];
    const resume = pause();
    reports.sync(state(namespaces.map((namespace) => pod(namespace, 'old'))));
    await waitFor(() => writes.length === 1, { what: 'the first write to be under way' });
    reports.sync(state(namespaces.map((namespace) => pod(namespace, 'new'))));
    resume();
    await reports.idle();
    const names = (body: any) => body.results.map((entry: any) => entry.resources[0].name).join();
    // The write under way carries the old state; no other does, and every namespace ends new.
    expect(writes.map((write) => names(write.body))).toEqual(['old', 'new', 'new', 'new', 'new', 'new']);
    expect(new Set(writes.slice(1).map((write) => write.path)).size).toBe(5);
  });

  it('on a conflict reads the report again and tries again later', async () => {
    const { client, objects, writes, store } = reportStore();
    const reports = writer({ client });
    reports.sync(state([pod('a', 'p')]));
    await reports.idle();
    const path = `${POLR}/namespaces/a/policyreports/tierguard`;
    store(path, { ...objects.get(path), results: [] }); // someone else wrote it: its resourceVersion moved on
    reports.sync(state([pod('a', 'q')]));
    await waitFor(() => objects.get(path).results[0]?.resources[0].name === 'q', { what: 'the report to carry the new entry' });
    expect(writes.map((write) => write.method)).toEqual(['POST', 'PUT', 'PUT']);
  });

  it('warns once, naming the CRD and the chart value, when a report CRD is missing; writes the other kind; writes it once installed', async () => {
    const { client, objects, missing, lists } = reportStore();
    const logger = recordingLogger();
    missing.add('clusterpolicyreports');
    const reports = writer({ client, logger });
    reports.sync(state([pod('a', 'p'), namespaceObject('a')]));
    await reports.idle();
    expect([...objects.keys()]).toEqual([`${POLR}/namespaces/a/policyreports/tierguard`]);
    // Listed again with backoff meanwhile, and not logged again.
    await waitFor(() => lists.filter((path) => path.endsWith('/clusterpolicyreports')).length >= 4, { what: 'three more lists of ClusterPolicyReports' });
    const warnings = logger.lines.filter((line) => line.level === 'warn');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.message).toMatch(/the CRD clusterpolicyreports\.wgpolicyk8s\.io is not installed.*reports\.installCRDs=true/);
    missing.delete('clusterpolicyreports');
    await waitFor(() => objects.has(`${POLR}/clusterpolicyreports/tierguard`), { what: 'the ClusterPolicyReport once its CRD is there' });
    expect(logger.lines.filter((line) => line.level === 'warn')).toHaveLength(1);
  });

  it('a new process lists what exists: deletes stale reports, keeps unchanged ones and their timestamps', async () => {
    const { client, objects, writes } = reportStore();
    const first = writer({ client });
    first.sync(state([pod('a', 'p'), pod('b', 'p')]));
    await first.idle();
    first.stop();
    const written = writes.length;
    const second = writer({ client });
    // Later audit, same findings in a; none left in b.
    second.sync(state([pod('a', 'p')], new Date('2026-05-02T00:00:00Z')));
    await second.idle();
    expect(writes.slice(written).map(({ method, path }) => `${method} ${path}`)).toEqual([`DELETE ${POLR}/namespaces/b/policyreports/tierguard`]);
    expect(objects.get(`${POLR}/namespaces/a/policyreports/tierguard`).results[0].timestamp).toEqual({ seconds: T0.getTime() / 1000, nanos: 0 });
  });

  it('after reset() lists again, so a report another writer left is deleted', async () => {
    const { client, objects, writes, store } = reportStore();
    const reports = writer({ client });
    reports.sync(state([pod('a', 'p')]));
    await reports.idle();
    store(`${POLR}/namespaces/z/policyreports/tierguard`, { apiVersion: 'wgpolicyk8s.io/v1alpha2', kind: 'PolicyReport', metadata: { name: 'tierguard', namespace: 'z', labels: { 'app.kubernetes.io/managed-by': 'tierguard' } }, results: [] });
    store(`${POLR}/namespaces/z/policyreports/someone-elses`, { apiVersion: 'wgpolicyk8s.io/v1alpha2', kind: 'PolicyReport', metadata: { name: 'someone-elses', namespace: 'z' }, results: [] });
    reports.reset();
    await reports.idle();
    expect(writes.at(-1)).toMatchObject({ method: 'DELETE', path: `${POLR}/namespaces/z/policyreports/tierguard` });
    expect([...objects.keys()].sort()).toEqual([`${POLR}/namespaces/a/policyreports/tierguard`, `${POLR}/namespaces/z/policyreports/someone-elses`]);
  });

  it('writes nothing before its first state, and nothing after stop()', async () => {
    const { client, writes, store, pause } = reportStore();
    store(`${POLR}/namespaces/z/policyreports/tierguard`, { metadata: { name: 'tierguard', namespace: 'z', labels: { 'app.kubernetes.io/managed-by': 'tierguard' } } });
    const reports = writer({ client });
    reports.reset();
    await reports.idle();
    expect(writes).toEqual([]);
    const resume = pause();
    reports.sync(state(['a', 'b', 'c', 'd'].map((namespace) => pod(namespace, 'p'))));
    await waitFor(() => writes.length === 1, { what: 'the first write to be under way' });
    reports.stop();
    resume();
    await reports.idle();
    reports.sync(state([]));
    await reports.idle();
    expect(writes).toHaveLength(1);
  });

  it('writes openreports.io Reports with --reports openreports', async () => {
    const { client, objects } = reportStore();
    const reports = writer({ client, format: 'openreports' });
    reports.sync(state([pod('a', 'p'), namespaceObject('a')]));
    await reports.idle();
    expect([...objects.keys()].sort()).toEqual(['/apis/openreports.io/v1alpha1/clusterreports/tierguard', '/apis/openreports.io/v1alpha1/namespaces/a/reports/tierguard']);
  });
});
