/**
 * The Lease wire format of leader election (src/cluster/lease-record.ts), and the durations
 * `startLeaderElection` refuses. The election itself is tested against a real API server
 * (real-cluster-leader.test.ts).
 */
import { describe, expect, it } from 'vitest';
import type { KubeClient } from '../../src/cluster/kube-client.js';
import { startLeaderElection } from '../../src/cluster/leader-election.js';
import { decodeLease, leasePaths, microTime, replacedLease } from '../../src/cluster/lease-record.js';
import { silentLogger } from '../../src/telemetry/logger.js';

describe('lease record', () => {
  it.each([
    { name: 'milliseconds padded to microseconds', date: '2026-12-05T21:00:00.123Z', expected: '2026-12-05T21:00:00.123000Z' },
    { name: 'a whole second', date: '2026-01-01T00:00:00.000Z', expected: '2026-01-01T00:00:00.000000Z' },
  ])('MicroTime: $name', ({ date, expected }) => {
    expect(microTime(new Date(date))).toBe(expected);
  });

  it('paths are escaped', () => {
    expect(leasePaths('tierguard', 'writer')).toEqual({
      collection: '/apis/coordination.k8s.io/v1/namespaces/tierguard/leases',
      object: '/apis/coordination.k8s.io/v1/namespaces/tierguard/leases/writer',
    });
    expect(leasePaths('a b', 'c/d').object).toBe('/apis/coordination.k8s.io/v1/namespaces/a%20b/leases/c%2Fd');
  });

  it.each([
    { name: 'no spec', spec: undefined, expected: { holderIdentity: '', leaseDurationSeconds: 0, leaseTransitions: 0 } },
    { name: 'released (empty holder)', spec: { holderIdentity: '', leaseDurationSeconds: 1, leaseTransitions: 3 }, expected: { holderIdentity: '', leaseDurationSeconds: 1, leaseTransitions: 3 } },
    {
      name: 'held',
      spec: { holderIdentity: 'a', leaseDurationSeconds: 15, acquireTime: '2026-01-01T00:00:00.000000Z', renewTime: '2026-01-01T00:00:02.000000Z', leaseTransitions: 1 },
      expected: { holderIdentity: 'a', leaseDurationSeconds: 15, acquireTime: '2026-01-01T00:00:00.000000Z', renewTime: '2026-01-01T00:00:02.000000Z', leaseTransitions: 1 },
    },
  ])('decodes a Lease: $name', ({ spec, expected }) => {
    const stored = decodeLease({ metadata: { name: 'w', resourceVersion: '42' }, ...(spec ? { spec } : {}) });
    expect(stored.record).toEqual(expected);
    expect(stored.resourceVersion).toBe('42');
  });

  it('refuses an object without a resourceVersion: a replace could not be conditional', () => {
    expect(() => decodeLease({ metadata: { name: 'w' }, spec: {} })).toThrow(/resourceVersion/);
  });

  it('a replace keeps the object as read (resourceVersion, labels, other spec fields) and clears a released holder', () => {
    const stored = decodeLease({ apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: 'w', resourceVersion: '7', labels: { app: 'tierguard' } }, spec: { holderIdentity: 'a', leaseDurationSeconds: 15, leaseTransitions: 2, strategy: 'OldestEmulationVersion' } });
    const released = replacedLease(stored, { holderIdentity: '', leaseDurationSeconds: 1, leaseTransitions: 2, renewTime: '2026-01-01T00:00:00.000000Z' });
    expect(released).toEqual({
      apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: 'w', resourceVersion: '7', labels: { app: 'tierguard' } },
      spec: { holderIdentity: '', leaseDurationSeconds: 1, leaseTransitions: 2, renewTime: '2026-01-01T00:00:00.000000Z', strategy: 'OldestEmulationVersion' },
    });
  });
});

describe('leader election durations', () => {
  /** FAKE: never called, since the durations are refused before any API call. */
  const fakeUnusedClient = {} as KubeClient;
  const base = { client: fakeUnusedClient, logger: silentLogger, namespace: 'tierguard', name: 'writer', identity: 'a' };

  it.each([
    { name: 'lease not longer than the renew deadline', options: { leaseDurationMs: 10_000, renewDeadlineMs: 10_000 }, message: /leaseDurationMs/ },
    { name: 'renew deadline within 1.2 retry periods', options: { renewDeadlineMs: 2400, retryPeriodMs: 2000 }, message: /renewDeadlineMs/ },
    { name: 'no retry period', options: { retryPeriodMs: 0 }, message: /retryPeriodMs/ },
    { name: 'no identity', options: { identity: '' }, message: /identity/ },
  ])('refuses $name (as client-go does)', ({ options, message }) => {
    expect(() => startLeaderElection({ ...base, ...options })).toThrow(message);
  });
});
