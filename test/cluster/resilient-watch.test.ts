/**
 * The list-then-watch loop against the fake API server (test/helpers/fake-apiserver.ts): sync,
 * paging, resuming after dropped connections without missing events, re-listing on 410 Gone,
 * bookmarks, backoff after errors, and stopping without leftovers.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createBackoff } from '../../src/cluster/backoff.js';
import { createKubeClient } from '../../src/cluster/kube-client.js';
import { startResilientWatch, type ResilientWatch, type WatchChange } from '../../src/cluster/resilient-watch.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { startFakeApiServer, type FakeApiServer } from '../helpers/fake-apiserver.js';
import { testCertificates, type TestCertificates } from '../helpers/tls.js';
import { waitFor } from '../helpers/wait-for.js';
import { FAST_BACKOFF, recordingLogger, sleep } from './support.js';

interface Seen {
  readonly name: string;
  readonly team?: string;
}

let certs: TestCertificates;
let fake: FakeApiServer;
let watch: ResilientWatch | undefined;

beforeAll(() => { certs = testCertificates(); });
afterEach(async () => {
  watch?.stop();
  watch = undefined;
  await fake?.close();
});

const namespace = (name: string, team = 'core') => ({ metadata: { name, labels: { team } } });

/** Starts a namespace watch whose consumer keeps `state` (name → team) and every change type. */
async function watchNamespaces(options: { goneAs?: 'event' | 'status'; pageSize?: number; before?: (server: FakeApiServer) => void } = {}) {
  fake = await startFakeApiServer({ certificates: certs, ...(options.goneAs ? { goneAs: options.goneAs } : {}) });
  options.before?.(fake);
  const state = new Map<string, string | undefined>();
  const changes: string[] = [];
  const onChange = (change: WatchChange<Seen>) => {
    changes.push(change.type === 'SYNC' ? `SYNC ${change.items.length}` : `${change.type} ${change.object.name}`);
    if (change.type === 'SYNC') {
      state.clear();
      for (const item of change.items) state.set(item.name, item.team);
    } else if (change.type === 'DELETED') state.delete(change.object.name);
    else state.set(change.object.name, change.object.team);
  };
  const decode = (raw: any): Seen | undefined => (raw?.metadata?.name ? { name: raw.metadata.name, team: raw.metadata.labels?.team } : undefined);
  watch = startResilientWatch({ client: createKubeClient({ kubeConfig: fake.kubeConfig() }), path: '/api/v1/namespaces', decode, onChange, logger: silentLogger, backoff: FAST_BACKOFF, ...(options.pageSize ? { pageSize: options.pageSize } : {}) });
  return { state, changes, watch };
}

const lists = () => fake.count({ method: 'GET', path: '/api/v1/namespaces', watch: false });
const watchStarts = () => fake.requests.filter((r) => r.path === '/api/v1/namespaces' && r.query.watch === 'true');

describe('resilient watch', () => {
  it('is synced only after its first list succeeds, retrying a failed list with backoff', async () => {
    const { state, watch } = await watchNamespaces({ before: (server) => {
      server.create('namespaces', namespace('a'));
      server.failNext({ pathPrefix: '/api/v1/namespaces', status: 500, count: 2 });
    } });
    expect(watch.synced).toBe(false);
    await watch.whenSynced;
    expect(watch.synced).toBe(true);
    expect(watch.stats).toMatchObject({ lists: 1, errors: 2 });
    expect([...state.keys()]).toEqual(['a']);
    fake.create('namespaces', namespace('b'));
    await waitFor(() => state.has('b'), { what: 'the ADDED event' });
  });

  it('pages through a long list with limit and continue', async () => {
    const { state, watch } = await watchNamespaces({ pageSize: 2, before: (server) => { for (const name of ['a', 'b', 'c', 'd', 'e']) server.create('namespaces', namespace(name)); } });
    await watch.whenSynced;
    expect([...state.keys()].sort()).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(lists()).toBe(3);
  });

  it.each([
    { name: 'closed cleanly by the server', abrupt: false },
    { name: 'reset mid-stream', abrupt: true },
  ])('resumes a watch $name from the last resource version, missing no event and not listing again', async ({ abrupt }) => {
    const { state, changes, watch } = await watchNamespaces({ before: (server) => { server.create('namespaces', namespace('a')); } });
    await watch.whenSynced;
    fake.create('namespaces', namespace('b'));
    await waitFor(() => state.has('b'), { what: 'b' });
    const lastSeen = watch.resourceVersion;
    expect(fake.dropWatches({ abrupt })).toBe(1);
    // While no watch is open: these must arrive through the resumed watch.
    fake.update('namespaces', namespace('a', 'payments'));
    fake.create('namespaces', namespace('c'));
    fake.delete('namespaces', 'b');
    await waitFor(() => state.get('a') === 'payments' && state.has('c') && !state.has('b'), { what: 'the events made while disconnected' });
    expect(changes).toEqual(['SYNC 1', 'ADDED b', 'MODIFIED a', 'ADDED c', 'DELETED b']);
    expect(lists()).toBe(1);
    expect(watchStarts().map((r) => r.query.resourceVersion)).toContain(lastSeen);
    expect(watch.resourceVersion).toBe(String(fake.resourceVersion));
  });

  it.each([
    { name: 'an ERROR event with code 410', goneAs: 'event' as const },
    { name: 'HTTP 410', goneAs: 'status' as const },
  ])('lists again after $name, ending with the server state', async ({ goneAs }) => {
    const { state, changes, watch } = await watchNamespaces({ goneAs, before: (server) => { server.create('namespaces', namespace('a')); } });
    await watch.whenSynced;
    await waitFor(() => fake.openWatches === 1, { what: 'the watch to open' });
    fake.dropWatches();
    fake.create('namespaces', namespace('b'));
    fake.delete('namespaces', 'a');
    fake.compact();
    await waitFor(() => lists() === 2 && state.has('b') && !state.has('a'), { what: 'the re-list' });
    expect(changes).toEqual(['SYNC 1', 'SYNC 1']);
    fake.create('namespaces', namespace('c'));
    await waitFor(() => state.has('c'), { what: 'events after the re-list' });
  });

  it('moves its resume point on bookmarks, so a compaction after one needs no re-list', async () => {
    const { watch } = await watchNamespaces({ before: (server) => { server.create('namespaces', namespace('a')); } });
    await watch.whenSynced;
    await waitFor(() => fake.openWatches === 1, { what: 'the watch to open' });
    fake.create('tiers', { metadata: { name: 'unrelated' } });
    fake.bookmark();
    await waitFor(() => watch.resourceVersion === String(fake.resourceVersion), { what: 'the bookmark' });
    fake.compact();
    fake.dropWatches();
    await waitFor(() => watchStarts().length === 2 && fake.openWatches === 1, { what: 'the resumed watch' });
    expect(lists()).toBe(1);
  });

  it('keeps going when its consumer throws', async () => {
    fake = await startFakeApiServer({ certificates: certs });
    const logger = recordingLogger();
    const seen: string[] = [];
    watch = startResilientWatch<string>({
      client: createKubeClient({ kubeConfig: fake.kubeConfig() }),
      path: '/api/v1/namespaces',
      decode: (raw: any) => raw?.metadata?.name,
      onChange: (change) => {
        if (change.type === 'ADDED' && change.object === 'bad') throw new Error('consumer bug');
        if (change.type === 'ADDED') seen.push(change.object);
      },
      logger,
      backoff: FAST_BACKOFF,
    });
    await watch.whenSynced;
    fake.create('namespaces', namespace('bad'));
    fake.create('namespaces', namespace('good'));
    await waitFor(() => seen.includes('good'), { what: 'the event after the failing one' });
    expect(logger.lines.some((line) => line.level === 'error' && line.fields.error === 'consumer bug')).toBe(true);
  });

  it('stops without leaving a connection or a timer, even while backing off', async () => {
    fake = await startFakeApiServer({ certificates: certs });
    fake.failNext({ pathPrefix: '/api/v1/namespaces', status: 503, count: 1000 });
    const timers = () => process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout').length;
    const before = timers();
    watch = startResilientWatch({ client: createKubeClient({ kubeConfig: fake.kubeConfig() }), path: '/api/v1/namespaces', decode: (raw) => raw, onChange: () => {}, logger: silentLogger, backoff: FAST_BACKOFF });
    await waitFor(() => fake.requests.length >= 3, { what: 'a few failed lists' });
    const requests = fake.requests.length;
    watch.stop();
    await expect(watch.whenSynced).rejects.toThrow(/stopped before its first list/);
    // The one list in flight when stop() aborted it may still reach the fake, at any moment (CI
    // saw one land after a 50 ms grace): at most one more request. A retry loop the stop failed to
    // cancel would send one at least every 100 ms (the backoff's cap): several in these 400 ms.
    await sleep(400);
    expect(fake.requests.length - requests).toBeLessThanOrEqual(1);
    expect(timers()).toBeLessThanOrEqual(before);
    await fake.close();

    const healthy = await watchNamespaces();
    await healthy.watch.whenSynced;
    await waitFor(() => fake.openWatches === 1, { what: 'the watch to open' });
    healthy.watch.stop();
    await waitFor(() => fake.openWatches === 0, { what: 'the watch connection to close' });
  });
});

describe('backoff', () => {
  it('doubles from the first delay up to the cap, with jitter between half and all, and resets', () => {
    const top = createBackoff({ initialMs: 100, maxMs: 1000, random: () => 0.999999 });
    expect(Array.from({ length: 6 }, () => top.next())).toEqual([100, 200, 400, 800, 1000, 1000]);
    top.reset();
    expect(top.next()).toBe(100);
    const bottom = createBackoff({ initialMs: 100, maxMs: 1000, random: () => 0 });
    expect(Array.from({ length: 5 }, () => bottom.next())).toEqual([50, 100, 200, 400, 500]);
  });
});
