/**
 * What only one replica does (issue 12): the background audit, the reports it writes, and the
 * status of Tiers and Guardrails. The replica is the holder of a `coordination.k8s.io/v1` Lease
 * (`./leader-election.ts`); every replica still watches, compiles and answers admission requests,
 * and readiness never depends on the Lease. When the holder stops, or can no longer renew, another
 * replica takes over within the lease duration and starts with a full audit; reports left by the
 * previous holder are read back, so only what changed is written.
 */
import os from 'node:os';
import { randomUUID } from 'node:crypto';
import type { EngineOptions } from '../engine/evaluate.js';
import type { LedgerState } from '../review/audit-ledger.js';
import type { Logger } from '../telemetry/logger.js';
import { recordAudit, type Metrics } from '../telemetry/metrics.js';
import { startBackgroundAudit, type BackgroundAudit } from './background-audit.js';
import type { KubeClient } from './kube-client.js';
import { startLeaderElection } from './leader-election.js';
import type { PolicyRuntime } from './policy-runtime.js';
import { createReportWriter, type ReportWriter } from './report-writer.js';

export interface LeaderDutiesOptions {
  readonly client: KubeClient;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly runtime: PolicyRuntime;
  readonly engine: EngineOptions;
  /** Where the Lease lives (tierguard's namespace) and its name. */
  readonly namespace: string;
  readonly leaseName: string;
  readonly leaseDurationMs: number;
  /** Time between full audits; 0: no background audit (status is still written by the holder only). */
  readonly auditIntervalMs: number;
  readonly reports: 'policyreport' | 'openreports' | 'none';
  /** This replica's identity in the Lease (default: host name and a random suffix). */
  readonly identity?: string;
}

export interface LeaderDuties {
  /** Stops the duties and gives the Lease up, so that another replica takes over at once. */
  stop(): Promise<void>;
}

/**
 * @example
 * const duties = startLeaderDuties({ client, logger, metrics, runtime, engine, namespace: 'tierguard', leaseName: 'tierguard', leaseDurationMs: 15_000, auditIntervalMs: 3_600_000, reports: 'policyreport' });
 */
export function startLeaderDuties(options: LeaderDutiesOptions): LeaderDuties {
  const { client, logger, metrics, runtime } = options;
  const identity = options.identity ?? `${os.hostname()}_${randomUUID().slice(0, 8)}`;
  let stopping: Promise<void> | undefined;
  /** What this replica does while it leads; undefined while it follows. */
  let term: { stop(): void } | undefined;
  runtime.status?.setLeading(false);
  metrics.auditIsLeader.set(0);

  const onState = (reports: ReportWriter | undefined) => (state: LedgerState): void => {
    reports?.sync(state);
    runtime.status?.syncAudit(state.counts, state.time, runtime.policyObjects(), options.auditIntervalMs);
    recordAudit(metrics, { violations: state.series, isolation: state.isolation, time: state.time });
  };

  const lead = (): void => {
    logger.info('leading: this replica writes reports and status', { identity, lease: `${options.namespace}/${options.leaseName}` });
    metrics.auditIsLeader.set(1);
    runtime.status?.setLeading(true);
    const reports = options.reports === 'none' ? undefined : createReportWriter({ client, format: options.reports, logger });
    const cache = runtime.networkPolicyCache;
    let audit: BackgroundAudit | undefined;
    let unsubscribe = (): void => {};
    let ended = false;
    const begin = (): void => {
      if (ended || options.auditIntervalMs === 0 || !cache) return;
      audit = startBackgroundAudit({ client, logger, policy: runtime.policy, networkPolicies: cache, engine: options.engine, intervalMs: options.auditIntervalMs, onState: onState(reports) });
      unsubscribe = runtime.onPolicyChange(() => audit?.auditAll('policy set changed'));
    };
    term = {
      stop() {
        ended = true;
        unsubscribe();
        audit?.stop();
        reports?.stop();
      },
    };
    // No audit before a policy set is in force: every object would only say so.
    if (runtime.policy()) begin();
    else void runtime.source.firstSet.then(begin, () => {});
  };

  const follow = (): void => {
    if (!term) return;
    logger.info('no longer leading: reports and status are left to the Lease holder', { identity });
    term.stop();
    term = undefined;
    runtime.status?.setLeading(false);
    metrics.auditIsLeader.set(0);
    recordAudit(metrics, undefined);
  };

  const election = startLeaderElection({
    client,
    logger,
    namespace: options.namespace,
    name: options.leaseName,
    identity,
    leaseDurationMs: options.leaseDurationMs,
    renewDeadlineMs: Math.round(options.leaseDurationMs * 2 / 3),
    retryPeriodMs: Math.max(200, Math.round(options.leaseDurationMs * 2 / 15)),
    onStartedLeading: lead,
    onStoppedLeading: follow,
  });

  return {
    stop() {
      stopping ??= (async () => {
        follow();
        await election.stop();
      })();
      return stopping;
    },
  };
}
