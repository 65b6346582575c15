/**
 * The `coordination.k8s.io/v1` Lease as leader election reads and writes it: the five spec fields
 * of client-go's `LeaderElectionRecord`, the paths, and MicroTime. Kept apart from the election
 * loop (leader-election.ts) so that the loop reads as decisions, not as wire format.
 *
 * A replace carries the object as it was read (its `metadata.resourceVersion`, labels and any
 * other spec fields) with only the record's fields changed, as client-go's `LeaseLock.Update`
 * does: the API server refuses it with 409 when someone else wrote in between.
 */

const LEASES_API = '/apis/coordination.k8s.io/v1';

/** The fields of a Lease's spec that leader election reads and writes. */
export interface LeaseRecord {
  /** Who holds the Lease; empty when nobody does (never created, or released). */
  readonly holderIdentity: string;
  /** How long the holder may go without renewing before others may take the Lease (s). */
  readonly leaseDurationSeconds: number;
  /** MicroTime the holder took it; undefined when never set. */
  readonly acquireTime?: string;
  /** MicroTime the holder last renewed it; only its change matters, never its value. */
  readonly renewTime?: string;
  /** How many times the Lease went from one holder to another. */
  readonly leaseTransitions: number;
}

/** A Lease as read: its record, and what a replace must send back. */
export interface StoredLease {
  readonly record: LeaseRecord;
  readonly resourceVersion: string;
  /** The whole object as the API server returned it. */
  readonly raw: Readonly<Record<string, unknown>>;
}

/**
 * Where the Lease lives: `collection` for a create, `object` for get and replace.
 *
 * @example
 * leasePaths('tierguard', 'tierguard-writer').object;
 * // '/apis/coordination.k8s.io/v1/namespaces/tierguard/leases/tierguard-writer'
 */
export function leasePaths(namespace: string, name: string): { readonly collection: string; readonly object: string } {
  const collection = `${LEASES_API}/namespaces/${encodeURIComponent(namespace)}/leases`;
  return { collection, object: `${collection}/${encodeURIComponent(name)}` };
}

/**
 * A Kubernetes MicroTime: RFC 3339 in UTC with exactly six fractional digits. A `Date` holds
 * milliseconds, so the last three digits are zeros.
 *
 * @example
 * microTime(new Date('2026-12-05T21:00:00.123Z')); // '2026-12-05T21:00:00.123000Z'
 */
export function microTime(date: Date): string {
  return date.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

/** Reads a Lease returned by the API server; throws when it is not one (no resourceVersion). */
export function decodeLease(raw: unknown): StoredLease {
  const object = raw as { metadata?: { resourceVersion?: unknown }; spec?: Record<string, unknown> } | null;
  const resourceVersion = object?.metadata?.resourceVersion;
  if (typeof resourceVersion !== 'string' || !resourceVersion) throw new Error('the API server returned a Lease without metadata.resourceVersion');
  const spec = object?.spec ?? {};
  const text = (value: unknown) => (typeof value === 'string' && value ? value : undefined);
  const count = (value: unknown) => (typeof value === 'number' && Number.isFinite(value) ? value : 0);
  const acquireTime = text(spec.acquireTime);
  const renewTime = text(spec.renewTime);
  const record: LeaseRecord = {
    holderIdentity: text(spec.holderIdentity) ?? '',
    leaseDurationSeconds: count(spec.leaseDurationSeconds),
    leaseTransitions: count(spec.leaseTransitions),
    ...(acquireTime ? { acquireTime } : {}),
    ...(renewTime ? { renewTime } : {}),
  };
  return { record, resourceVersion, raw: object as Record<string, unknown> };
}

/** Whether two records are the same: any difference means the holder (or someone) wrote. */
export function sameRecord(a: LeaseRecord, b: LeaseRecord): boolean {
  return a.holderIdentity === b.holderIdentity && a.leaseDurationSeconds === b.leaseDurationSeconds
    && a.acquireTime === b.acquireTime && a.renewTime === b.renewTime && a.leaseTransitions === b.leaseTransitions;
}

/** The body of the create that makes the Lease. */
export function newLease(options: { namespace: string; name: string; record: LeaseRecord }): object {
  return { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: options.name, namespace: options.namespace }, spec: specOf(options.record) };
}

/** The body of the replace that writes `record` over `stored`, conditional on its resourceVersion. */
export function replacedLease(stored: StoredLease, record: LeaseRecord): object {
  const spec = (stored.raw.spec ?? {}) as Record<string, unknown>;
  return { ...stored.raw, spec: { ...spec, ...specOf(record) } };
}

function specOf(record: LeaseRecord): Record<string, unknown> {
  // holderIdentity is written even when empty: a release must clear the previous holder.
  return {
    holderIdentity: record.holderIdentity,
    leaseDurationSeconds: record.leaseDurationSeconds,
    leaseTransitions: record.leaseTransitions,
    ...(record.acquireTime ? { acquireTime: record.acquireTime } : {}),
    ...(record.renewTime ? { renewTime: record.renewTime } : {}),
  };
}
