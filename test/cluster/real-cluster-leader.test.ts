/**
 * Leader election (src/cluster/leader-election.ts) on a real kube-apiserver's Lease: one leader
 * among two, the Lease naming it, a release handing over at once, a dead leader replaced only
 * once its lease expired, and leaseTransitions counting every takeover. The API server decides
 * every conflict here (resourceVersion, 409), as it will in a cluster.
 *
 * What it cannot be made to do on demand, renewals failing or hanging, comes from
 * `failingClient`, a wrapper of the real client that starts rejecting (or never answering).
 *
 * Durations are short (lease 2 s) where an expiry is awaited, long where none may happen, and
 * every wait is for a condition. Timing assertions are lower bounds ("not before the lease
 * expired"), which a loaded machine cannot break, except one upper bound with a wide margin: a
 * release hands over in a retry or two, well within half of a 20 s lease.
 */
import { performance } from 'node:perf_hooks';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { KubeApiError, createKubeClient, type KubeClient } from '../../src/cluster/kube-client.js';
import { startLeaderElection, type LeaderElection, type LeaderElectionOptions } from '../../src/cluster/leader-election.js';
import { decodeLease, leasePaths, type LeaseRecord } from '../../src/cluster/lease-record.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { CLUSTER_START_TIMEOUT_MS, startCluster, waitFor, type TestCluster } from '../helpers/kube-cluster.js';
import { describeCluster } from '../helpers/describe-cluster.js';
import { recordingLogger, sleep } from './support.js';

const NAMESPACE = 'default';
const FAST = { leaseDurationMs: 2000, renewDeadlineMs: 1500, retryPeriodMs: 250 } as const;
/** Where no leader may change or expire: a leader would have to miss renewals for 15 s. */
const SLOW = { leaseDurationMs: 20_000, renewDeadlineMs: 15_000 } as const;
/** Timer and clock rounding allowed on a lower bound that holds exactly in theory (ms). */
const ROUNDING_MS = 50;
const MICRO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;

/** An elector and what happened to it, on this process's monotonic clock. */
interface Candidate {
  readonly election: LeaderElection;
  readonly events: ReadonlyArray<'started' | 'stopped'>;
  readonly startedAt?: number;
  readonly stoppedAt?: number;
}

type Fault = 'none' | 'reject' | 'hang';

interface FailingClient extends KubeClient {
  /** From now on, every call is refused with a 503 (`reject`), never answered (`hang`), or passed on (`none`). */
  fail(mode: Fault): void;
  /** Every get, create and replace, in order: when it was sent, and whether the API server answered it with success. */
  readonly calls: ReadonlyArray<{ readonly method: string; readonly at: number; readonly ok?: boolean }>;
}

/**
 * FAKE FAULTS over the real client, for what a real API server cannot be made to do on demand.
 * A call left hanging fails, as the real client's request timeout would, when the fault is lifted.
 */
function failingClient(real: KubeClient): FailingClient {
  let fault: Fault = 'none';
  const calls: Array<{ method: string; at: number; ok?: boolean }> = [];
  const hanging: Array<(error: Error) => void> = [];
  const wrap = <A extends unknown[]>(method: string, send: (...args: A) => Promise<unknown>) => (...args: A): Promise<unknown> => {
    const call: { method: string; at: number; ok?: boolean } = { method, at: performance.now() };
    calls.push(call);
    if (fault === 'reject') return Promise.reject(new KubeApiError(`${method}: 503 ServiceUnavailable: injected`, 503, 'ServiceUnavailable'));
    if (fault === 'hang') return new Promise((_resolve, reject) => { hanging.push(reject); });
    return send(...args).then((value) => { call.ok = true; return value; });
  };
  return {
    ...real,
    get: wrap('get', real.get),
    create: wrap('create', real.create),
    replace: wrap('replace', real.replace),
    fail(mode) {
      fault = mode;
      if (mode === 'none') for (const reject of hanging.splice(0)) reject(new KubeApiError('no answer within the request timeout (injected)', 0));
    },
    calls,
  };
}

describeCluster('leader election on a coordination.k8s.io/v1 Lease', () => {
  let cluster: TestCluster;
  const running: Candidate[] = [];

  beforeAll(async () => {
    cluster = await startCluster({ crds: false });
  }, CLUSTER_START_TIMEOUT_MS);

  afterEach(async () => {
    for (const candidate of running.splice(0)) await candidate.election.stop();
  });

  afterAll(async () => {
    await cluster?.stop();
  }, 60_000);

  const realClient = () => createKubeClient({ kubeConfig: cluster.kubeConfig() });

  function candidate(options: Pick<LeaderElectionOptions, 'name' | 'identity'> & Partial<LeaderElectionOptions>): Candidate {
    const events: Array<'started' | 'stopped'> = [];
    const times: { startedAt?: number; stoppedAt?: number } = {};
    const election = startLeaderElection({
      client: realClient(), logger: silentLogger, namespace: NAMESPACE, ...FAST, ...options,
      onStartedLeading: () => { events.push('started'); times.startedAt = performance.now(); },
      onStoppedLeading: () => { events.push('stopped'); times.stoppedAt = performance.now(); },
    });
    const self: Candidate = { election, events, get startedAt() { return times.startedAt; }, get stoppedAt() { return times.stoppedAt; } };
    running.push(self);
    return self;
  }

  /** The Lease's record as the API server holds it (a quorum read). */
  const record = async (name: string): Promise<LeaseRecord> => decodeLease(await realClient().get(leasePaths(NAMESPACE, name).object)).record;
  const leaders = (...candidates: Candidate[]) => candidates.filter((c) => c.election.isLeader());

  it('two electors on one Lease: exactly one leads, and the Lease names it', async () => {
    const a = candidate({ name: 'one-of-two', identity: 'replica-a', ...SLOW });
    const b = candidate({ name: 'one-of-two', identity: 'replica-b', ...SLOW });
    const leader = await waitFor(() => leaders(a, b)[0], { what: 'a leader' });
    const follower = leader === a ? b : a;

    // For several renewals: never two leaders, never a change of leader.
    const until = performance.now() + 6 * FAST.retryPeriodMs;
    while (performance.now() < until) {
      expect(leaders(a, b)).toEqual([leader]);
      await sleep(20);
    }
    expect(leader.events).toEqual(['started']);
    expect(follower.events).toEqual([]);

    const got = await cluster.kubectl(['get', 'lease', 'one-of-two', '-n', NAMESPACE, '-o', 'json']);
    expect(got.code, got.stderr).toBe(0);
    const spec = JSON.parse(got.stdout).spec;
    expect(spec).toMatchObject({ holderIdentity: leader.election.identity, leaseDurationSeconds: 20, leaseTransitions: 0 });
    expect(spec.acquireTime).toMatch(MICRO_TIME);
    expect(spec.renewTime).toMatch(MICRO_TIME);
    // The leader keeps renewing: renewTime moves, acquireTime does not.
    await waitFor(async () => (await record('one-of-two')).renewTime !== spec.renewTime, { what: 'a renewal' });
    expect((await record('one-of-two')).acquireTime).toBe(spec.acquireTime);
  });

  it('stop() releases the Lease: no holder, the transitions kept, a 1 s duration', async () => {
    const only = candidate({ name: 'released', identity: 'replica-a' });
    await waitFor(() => only.election.isLeader(), { what: 'the only elector to lead' });
    await only.election.stop();
    expect(only.election.isLeader()).toBe(false);
    expect(only.events).toEqual(['started', 'stopped']);
    expect(await record('released')).toMatchObject({ holderIdentity: '', leaseDurationSeconds: 1, leaseTransitions: 0 });
  });

  it('after the leader stop()s, the other leads well before the lease would have expired, one transition later', async () => {
    // A long lease: the handover must come from the release, not from the expiry. Half of it is
    // the bound (the release hands over within a retry or two): loose enough for a loaded machine.
    const bound = SLOW.leaseDurationMs / 2;
    const a = candidate({ name: 'handover', identity: 'replica-a', ...SLOW });
    await waitFor(() => a.election.isLeader(), { what: 'replica-a to lead' });
    const logger = recordingLogger();
    const b = candidate({ name: 'handover', identity: 'replica-b', logger, ...SLOW });
    await waitFor(() => logger.lines.some((line) => line.fields.holder === 'replica-a'), { what: 'replica-b to see replica-a holding the Lease' });
    const before = await record('handover');

    const stoppedAt = performance.now();
    await a.election.stop();
    await waitFor(() => b.election.isLeader(), { what: 'replica-b to lead after the release', timeoutMs: bound });
    expect(b.startedAt! - stoppedAt).toBeLessThan(bound);
    expect(a.stoppedAt!).toBeLessThanOrEqual(b.startedAt!);
    expect(await record('handover')).toMatchObject({ holderIdentity: 'replica-b', leaseTransitions: before.leaseTransitions + 1 });
  });

  it('a leader that dies without releasing is replaced once its lease expired, not before, one transition later', async () => {
    const a = candidate({ name: 'abandoned', identity: 'replica-a', releaseOnStop: false });
    await waitFor(() => a.election.isLeader(), { what: 'replica-a to lead' });
    const b = candidate({ name: 'abandoned', identity: 'replica-b' });
    const before = await record('abandoned');

    // Catch a renewal as it lands: it landed after `writtenAfter`, the start of the last read that did not see it.
    let writtenAfter = performance.now();
    const seen = (await record('abandoned')).renewTime;
    await waitFor(async () => {
      const readAt = performance.now();
      if ((await record('abandoned')).renewTime !== seen) return true;
      writtenAfter = readAt;
      return false;
    }, { what: 'a renewal by replica-a', intervalMs: 0 });
    await a.election.stop(); // no release: as if the process died

    await waitFor(() => b.election.isLeader(), { what: 'replica-b to take over the expired Lease' });
    // replica-b saw that renewal (or a later one) no earlier than it landed, and waited a lease duration from then.
    expect(b.startedAt! - writtenAfter).toBeGreaterThanOrEqual(FAST.leaseDurationMs - ROUNDING_MS);
    expect(a.events).toEqual(['started', 'stopped']);
    expect(await record('abandoned')).toMatchObject({ holderIdentity: 'replica-b', leaseTransitions: before.leaseTransitions + 1 });
  });

  it.each([
    { name: 'refused (503)', fault: 'reject' as const },
    { name: 'never answered', fault: 'hang' as const },
  ])('a leader whose renewals are $name stops leading after the renew deadline, before the other takes over', async ({ fault }) => {
    const client = failingClient(realClient());
    const logger = recordingLogger();
    const name = `failing-${fault}`;
    const a = candidate({ name, identity: 'replica-a', client, logger });
    await waitFor(() => a.election.isLeader(), { what: 'replica-a to lead' });
    const b = candidate({ name, identity: 'replica-b' });
    const before = await record(name);

    client.fail(fault);
    await waitFor(() => a.events.includes('stopped'), { what: 'replica-a to stop leading' });
    expect(a.election.isLeader()).toBe(false);
    // Its term ran for the renew deadline from the start of its last successful attempt: the
    // read (a few µs after that start) sent just before its last successful write.
    const lastWrite = client.calls.findLastIndex((call) => call.method !== 'get' && call.ok);
    const termStart = client.calls[lastWrite - 1]!;
    expect(termStart.method).toBe('get');
    expect(a.stoppedAt! - termStart.at).toBeGreaterThanOrEqual(FAST.renewDeadlineMs - ROUNDING_MS);

    await waitFor(() => b.election.isLeader(), { what: 'replica-b to take over' });
    expect(a.stoppedAt!).toBeLessThan(b.startedAt!);
    expect(await record(name)).toMatchObject({ holderIdentity: 'replica-b', leaseTransitions: before.leaseTransitions + 1 });

    // Back to normal: replica-a follows replica-b. However many attempts failed, one warning.
    client.fail('none');
    await waitFor(() => logger.lines.some((line) => line.message === 'Lease calls work again'), { what: 'replica-a to reach the API server again' });
    const failed = logger.lines.filter((line) => line.message === 'Lease call failed; retrying');
    if (fault === 'reject') expect(failed.length).toBeGreaterThan(2);
    expect(failed.filter((line) => line.level === 'warn')).toHaveLength(1);
    expect(leaders(a, b)).toEqual([b]);
    expect(a.events).toEqual(['started', 'stopped']);
  });
});
