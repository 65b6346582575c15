/**
 * One writer among tierguard's replicas, chosen by a `coordination.k8s.io/v1` Lease as client-go's
 * `leaderelection` package does with a `LeaseLock`. Only the leader writes reports and status;
 * readiness and admission never depend on it: this is a flag plus two callbacks.
 *
 * - Every retry period (with jitter while not leading) one attempt: read the Lease; create it when
 *   absent; take it when nobody holds it, or when its record has not changed for the lease
 *   duration. Writes are replaces conditional on `metadata.resourceVersion`: a 409 means someone
 *   else wrote first, and the next attempt reads again.
 * - Expiry is judged on this process's monotonic clock, from when it *observed* the record change,
 *   never from the remote `renewTime`: clock skew between replicas does not matter (only a
 *   difference in clock rate does; lease duration over renew deadline is the tolerated ratio).
 * - A leader counts its term from the start of its last successful attempt. If it cannot renew
 *   within the renew deadline (failures, or a request that hangs) it stops leading, by a timer of
 *   its own, before anyone else may take over (the lease duration after they saw that write).
 * - `stop()` stops leading first, then releases the Lease (holder cleared, duration 1 s, as
 *   client-go's ReleaseOnCancel), so another replica takes over at its next attempt.
 *
 * API errors are logged at warn on the first failure of a streak and once a minute while it lasts
 * (debug otherwise), and retried; nothing throws out of a timer.
 */
import { performance } from 'node:perf_hooks';
import type { Logger } from '../telemetry/logger.js';
import { KubeApiError, type KubeClient } from './kube-client.js';
import { decodeLease, leasePaths, microTime, newLease, replacedLease, sameRecord, type LeaseRecord, type StoredLease } from './lease-record.js';

export interface LeaderElectionOptions {
  readonly client: KubeClient;
  readonly logger: Logger;
  /** Namespace of the Lease (tierguard's own). */
  readonly namespace: string;
  /** Name of the Lease. */
  readonly name: string;
  /** Unique per process (e.g. pod name and a random suffix): two processes with one identity would both lead. */
  readonly identity: string;
  /** How long others wait, after they last saw the record change, before taking the Lease (ms, default 15 000). */
  readonly leaseDurationMs?: number;
  /** How long a leader keeps leading without a successful renewal (ms, default 10 000; less than the lease duration). */
  readonly renewDeadlineMs?: number;
  /** Pause between attempts (ms, default 2000; the renew deadline must exceed 1.2 times it). */
  readonly retryPeriodMs?: number;
  /**
   * Release the Lease on `stop()` (default true). false leaves it to expire, as a process that
   * dies does: client-go's ReleaseOnCancel=false, and how the tests play a crashed leader.
   */
  readonly releaseOnStop?: boolean;
  /** Called when this process starts leading (`isLeader()` is already true); an exception is logged. */
  readonly onStartedLeading?: () => void;
  /** Called when it stops leading (`isLeader()` is already false): stop writing at once. An exception is logged. */
  readonly onStoppedLeading?: () => void;
}

export interface LeaderElection {
  readonly identity: string;
  isLeader(): boolean;
  /** Stops trying; if leading, releases the Lease (holderIdentity cleared, as client-go's ReleaseOnCancel) so another replica takes over at once. */
  stop(): Promise<void>;
}

/** client-go's JitterFactor: a candidate waits between 1 and 2.2 retry periods between attempts. */
const JITTER_FACTOR = 1.2;
/** While API calls keep failing, one warning per this many ms; the rest go to debug. */
const WARN_EVERY_MS = 60_000;

interface Timings {
  readonly leaseDurationMs: number;
  readonly renewDeadlineMs: number;
  readonly retryPeriodMs: number;
}

/** The three durations, checked as client-go's `NewLeaderElector` checks them. */
function timingsOf(options: LeaderElectionOptions): Timings {
  const timings = { leaseDurationMs: options.leaseDurationMs ?? 15_000, renewDeadlineMs: options.renewDeadlineMs ?? 10_000, retryPeriodMs: options.retryPeriodMs ?? 2000 };
  if (!(timings.retryPeriodMs > 0)) throw new RangeError(`retryPeriodMs must be positive, not ${timings.retryPeriodMs}`);
  if (!(timings.renewDeadlineMs > JITTER_FACTOR * timings.retryPeriodMs)) throw new RangeError(`renewDeadlineMs (${timings.renewDeadlineMs}) must exceed ${JITTER_FACTOR} × retryPeriodMs (${timings.retryPeriodMs})`);
  if (!(timings.leaseDurationMs > timings.renewDeadlineMs)) throw new RangeError(`leaseDurationMs (${timings.leaseDurationMs}) must exceed renewDeadlineMs (${timings.renewDeadlineMs})`);
  if (!options.identity) throw new RangeError('identity must not be empty');
  return timings;
}

/**
 * Starts competing for the Lease at once; `isLeader()` says whether this process may write.
 *
 * @example
 * const election = startLeaderElection({
 *   client, logger, namespace: 'tierguard', name: 'tierguard-writer', identity: `${podName}-${randomUUID().slice(0, 8)}`,
 *   onStartedLeading: () => reports.start(), onStoppedLeading: () => reports.stop(),
 * });
 * // on SIGTERM, after the writes are done:
 * await election.stop();
 */
export function startLeaderElection(options: LeaderElectionOptions): LeaderElection {
  const { client, logger, identity, namespace, name } = options;
  const timings = timingsOf(options);
  const paths = leasePaths(namespace, name);
  const context = { lease: `${namespace}/${name}`, identity };
  const warnings = quietFailures(logger, context);
  const durationSeconds = Math.ceil(timings.leaseDurationMs / 1000);
  let observed: { record: LeaseRecord; at: number } | undefined;
  let reportedHolder: string | undefined;
  let leading = false;
  /** When the current term ends (monotonic ms): `isLeader()` reads it, so a late timer never stretches a term. */
  let termEndsAt = 0;
  let stopped = false;
  let tickTimer: NodeJS.Timeout | undefined;
  let deadlineTimer: NodeJS.Timeout | undefined;
  let inFlight: Promise<void> | undefined;

  const call = (what: string, callback: (() => void) | undefined): void => {
    try {
      callback?.();
    } catch (error) {
      logger.error(`${what} callback failed`, { ...context, error: (error as Error).message });
    }
  };

  const observe = (record: LeaseRecord): void => {
    if (!observed || !sameRecord(observed.record, record)) observed = { record, at: performance.now() };
    if (record.holderIdentity !== reportedHolder) {
      reportedHolder = record.holderIdentity;
      logger.info(record.holderIdentity ? 'Lease holder observed' : 'Lease held by nobody', { ...context, holder: record.holderIdentity });
    }
  };

  /** Whether the holder of the observed record may be replaced: it has not changed for the lease duration. */
  const expired = (): boolean => {
    if (!observed) return false;
    const durationMs = Math.max(timings.leaseDurationMs, observed.record.leaseDurationSeconds * 1000);
    return performance.now() - observed.at >= durationMs;
  };

  const stopLeading = (why: string): void => {
    clearTimeout(deadlineTimer);
    deadlineTimer = undefined;
    if (!leading) return;
    leading = false;
    logger.info('stopped leading', { ...context, why });
    call('onStoppedLeading', options.onStoppedLeading);
  };

  /** A write of ours succeeded in an attempt that began at `startedAt`: lead until the renew deadline after it. */
  const termFrom = (startedAt: number): void => {
    const remainingMs = startedAt + timings.renewDeadlineMs - performance.now();
    if (stopped || remainingMs <= 0) return;
    termEndsAt = startedAt + timings.renewDeadlineMs;
    clearTimeout(deadlineTimer);
    deadlineTimer = setTimeout(() => stopLeading(`not renewed within ${timings.renewDeadlineMs} ms`), remainingMs);
    if (leading) return;
    leading = true;
    logger.info('started leading', context);
    call('onStartedLeading', options.onStartedLeading);
  };

  /** The record this process writes: a renewal keeps acquireTime and the transition count, a takeover counts one more. */
  const ourRecord = (previous: LeaseRecord | undefined): LeaseRecord => {
    const now = microTime(new Date());
    const renewal = previous?.holderIdentity === identity;
    return {
      holderIdentity: identity,
      leaseDurationSeconds: durationSeconds,
      acquireTime: renewal ? previous.acquireTime ?? now : now,
      renewTime: now,
      leaseTransitions: previous ? previous.leaseTransitions + (renewal ? 0 : 1) : 0,
    };
  };

  /** client-go's tryAcquireOrRenew: true when this process now holds the Lease. */
  const tryAcquireOrRenew = async (): Promise<boolean> => {
    const stored = await readLease(client, paths.object);
    if (!stored) {
      const record = ourRecord(undefined);
      await client.create(paths.collection, newLease({ namespace, name, record }));
      observe(record);
      return true;
    }
    observe(stored.record);
    const holder = stored.record.holderIdentity;
    if (holder && holder !== identity && !expired()) return false;
    if (holder && holder !== identity) logger.info('taking over an expired Lease', { ...context, holder });
    const record = ourRecord(stored.record);
    await client.replace(paths.object, replacedLease(stored, record));
    observe(record);
    return true;
  };

  const attempt = async (): Promise<void> => {
    const startedAt = performance.now();
    try {
      const held = await tryAcquireOrRenew();
      warnings.succeeded();
      if (held) termFrom(startedAt);
      else stopLeading(`the Lease is held by ${observed?.record.holderIdentity}`);
    } catch (error) {
      // A 409 is a lost race, not a failure: someone wrote first; the next attempt reads again.
      if (error instanceof KubeApiError && error.statusCode === 409) logger.debug('Lease written by someone else first', { ...context, error: error.message });
      else warnings.failed(error);
    }
  };

  const schedule = (): void => {
    if (stopped) return;
    const delayMs = leading ? timings.retryPeriodMs : timings.retryPeriodMs * (1 + Math.random() * JITTER_FACTOR);
    tickTimer = setTimeout(() => {
      tickTimer = undefined;
      inFlight = attempt().finally(() => {
        inFlight = undefined;
        schedule();
      });
    }, delayMs);
  };

  const release = async (): Promise<void> => {
    try {
      const stored = await readLease(client, paths.object);
      if (stored?.record.holderIdentity !== identity) return;
      const now = microTime(new Date());
      const record = { holderIdentity: '', leaseDurationSeconds: 1, acquireTime: now, renewTime: now, leaseTransitions: stored.record.leaseTransitions };
      await client.replace(paths.object, replacedLease(stored, record));
      observe(record);
      logger.info('released the Lease', context);
    } catch (error) {
      logger.warn('cannot release the Lease; another replica takes over when it expires', { ...context, error: (error as Error).message, leaseDurationMs: timings.leaseDurationMs });
    }
  };

  logger.info('competing for the Lease', { ...context, ...timings });
  inFlight = attempt().finally(() => {
    inFlight = undefined;
    schedule();
  });

  return {
    identity,
    isLeader: () => leading && performance.now() < termEndsAt,
    async stop() {
      if (stopped) return;
      stopped = true;
      clearTimeout(tickTimer);
      stopLeading('stopped');
      // An attempt under way may still land a write of ours (it no longer makes us lead): wait for
      // it before releasing, but no longer than a term.
      const pending = inFlight !== undefined && !(await settlesWithin(inFlight, timings.renewDeadlineMs));
      // Bounded too: a hung API server must not hold up shutdown; the Lease then expires by itself.
      if ((options.releaseOnStop ?? true) && (pending || observed?.record.holderIdentity === identity)) await settlesWithin(release(), timings.renewDeadlineMs);
    },
  };
}

/** The Lease, or undefined when it does not exist (404). */
async function readLease(client: KubeClient, path: string): Promise<StoredLease | undefined> {
  try {
    return decodeLease(await client.get(path));
  } catch (error) {
    if (error instanceof KubeApiError && error.statusCode === 404) return undefined;
    throw error;
  }
}

/** Whether `promise` settles within `ms`; the timer is cleared either way. */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => { timer = setTimeout(() => resolve(false), ms); });
  try {
    return await Promise.race([promise.then(() => true, () => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Logs a streak of failures without flooding: warn at the first and once every WARN_EVERY_MS while
 * it lasts, debug for the rest, and info when calls work again.
 */
function quietFailures(logger: Logger, context: Record<string, unknown>): { failed(error: unknown): void; succeeded(): void } {
  let streak = 0;
  let lastWarnAt = -Infinity;
  return {
    failed(error) {
      streak += 1;
      const fields = { ...context, error: (error as Error)?.message ?? String(error), failures: streak };
      if (streak === 1 || performance.now() - lastWarnAt >= WARN_EVERY_MS) {
        lastWarnAt = performance.now();
        logger.warn('Lease call failed; retrying', fields);
      } else {
        logger.debug('Lease call failed; retrying', fields);
      }
    },
    succeeded() {
      if (streak > 0) logger.info('Lease calls work again', { ...context, failures: streak });
      streak = 0;
      lastWarnAt = -Infinity;
    },
  };
}
