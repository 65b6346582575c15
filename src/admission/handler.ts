/**
 * The webhook's side of one request, HTTP only: parse the AdmissionReview, ask the review layer
 * (`../review/`) for its verdict, encode the verdict as an AdmissionResponse, count and log it.
 * What the request means is decided there; transport concerns (body size, content type, TLS)
 * live in `server.ts`.
 */
import type { AdmissionRequest } from '../api/admission.js';
import { derivedOnce, isUnproven, type Finding } from '../engine/findings.js';
import { review, type ReviewContext } from '../review/review.js';
import type { Verdict } from '../review/verdict.js';
import { logAll, type LogEntry, type Logger } from '../telemetry/logger.js';
import type { Metrics, Webhook } from '../telemetry/metrics.js';
import { metricKind } from './metric-kind.js';
import { allowed, denied, errored, invalid, parseReview, reviewOf, type Response } from './review.js';

export interface AdmissionHandlerOptions extends ReviewContext {
  /** Judges Tier and Guardrail changes (see `ReviewContext`); always given to the webhook. */
  readonly policyDocuments: NonNullable<ReviewContext['policyDocuments']>;
  readonly metrics: Metrics;
  readonly logger: Logger;
}

export interface HandledReview {
  readonly review: ReturnType<typeof reviewOf>;
  /** The request's kind as a metric label (`metricKind`), for the duration metric (`unknown` when the body could not be read). */
  readonly kind: string;
}

export type AdmissionHandler = (webhook: Webhook, body: string) => Promise<HandledReview>;

export function createAdmissionHandler(options: AdmissionHandlerOptions): AdmissionHandler {
  const { metrics, logger } = options;
  return async (webhook, body) => {
    const parsed = parseReview(body);
    if (!parsed.ok) {
      countRefused(metrics, webhook, 'bad_request');
      logger.warn('bad admission request', { webhook, reason: parsed.message.slice(0, 300) });
      return { review: reviewOf(parsed.uid, errored(400, parsed.message)), kind: 'unknown' };
    }
    const { request } = parsed;
    const verdict = await review(options, webhook, request);
    record(webhook, request, verdict, options);
    const kind = metricKind(request.kind);
    metrics.requests.inc({ webhook, kind, operation: request.operation, allowed: String(verdict.outcome === 'allowed'), dry_run: String(request.dryRun === true) });
    return { review: reviewOf(request.uid, responseOf(verdict)), kind };
  };
}

/**
 * An admission request answered without being read (malformed, too large, or a failure of
 * tierguard): an error of `reason`, and a request like any other, denied, whose kind and
 * operation are `unknown`, so that errors over requests is a share.
 */
export function countRefused(metrics: Metrics, webhook: Webhook, reason: string): void {
  metrics.errors.inc({ webhook, reason });
  metrics.requests.inc({ webhook, kind: 'unknown', operation: 'unknown', allowed: 'false', dry_run: 'false' });
}

/** The verdict as the API server reads it. */
export function responseOf(verdict: Verdict): Response {
  switch (verdict.outcome) {
    case 'allowed': return allowed({ patch: verdict.patch, warnings: verdict.warnings });
    case 'denied': return verdict.code === 422 ? invalid(verdict.message, verdict.warnings) : denied(verdict.message, verdict.warnings);
    case 'errored': return errored(verdict.code, verdict.message, verdict.warnings);
  }
}

/** Metrics and logs of one verdict. */
function record(webhook: Webhook, request: AdmissionRequest, verdict: Verdict, options: AdmissionHandlerOptions): void {
  const { metrics, logger } = options;
  const dryRun = request.dryRun === true;
  const failure = verdict.failure;
  if (failure) {
    metrics.errors.inc({ webhook, reason: failure.reason });
    if (failure.reason === 'internal') logger.error('admission request failed', { webhook, uid: request.uid, kind: request.kind.kind, error: failure.detail });
    if (failure.reason === 'policy_read') logger.error('cannot read Tiers and Guardrails to judge a change', { uid: request.uid, error: failure.detail });
  }
  if (verdict.outcome === 'denied' && verdict.code === 422) {
    metrics.violations.inc({ webhook, kind: request.kind.kind, tier: '-', guardrail: '-', rule: 'policy-set', mode: 'Enforce', dry_run: String(dryRun) });
  }
  if (webhook === 'mutate' && verdict.patch.length > 0) {
    logger.debug('defaults injected', { uid: request.uid, kind: request.kind.kind, object: verdict.subject, applied: verdict.applied, dryRun });
  }
  const lines: LogEntry[] = [];
  const about = verdict.findings.length > 0 ? JSON.stringify({ uid: request.uid, object: verdict.subject, dryRun }).slice(1, -1) : '';
  for (const finding of verdict.findings) {
    if (isUnproven(finding)) {
      // Not a violation, not a rule error: the check stopped at a bound. Its mode decided.
      metrics.errors.inc({ webhook, reason: 'check_bound' });
      lines.push({ level: 'warn', message: 'check unproven', json: `${about},${findingJson(finding)}` });
      continue;
    }
    metrics.violations.inc({ webhook, kind: request.kind.kind, tier: finding.tier, guardrail: finding.guardrail, rule: finding.rule, mode: finding.mode, dry_run: String(dryRun) });
    if (finding.mode !== 'Warn') lines.push({ level: 'info', message: finding.mode === 'Audit' ? 'audit finding' : 'violation', json: `${about},${findingJson(finding)}` });
  }
  logAll(logger, lines);
  for (const error of verdict.errors) {
    metrics.errors.inc({ webhook, reason: 'rule_error' });
    logger.warn('rule could not be evaluated', { webhook, uid: request.uid, object: verdict.subject, ...error });
  }
}

/**
 * The log fields of each shared finding (`isSharedFinding`: a missing required label, a CEL
 * validation's fixed message, a finding of an override answer served again from memory) as JSON
 * members, kept with the finding: they repeat request after request, and writing them again was a
 * fifth of a denied Pod's review with the bench's realistic set (issue 11). Any other finding's
 * are written for its request.
 */
const keptFindingJson = new WeakMap<Finding, string>();

function findingJson(finding: Finding): string {
  return derivedOnce(keptFindingJson, finding, jsonOf);
}

function jsonOf(finding: Finding): string {
  const { tier, guardrail, rule, mode, path, message, compliance, connection, kind } = finding;
  // Written out in this order: properties added after a spread cost V8 in Node 20 about 1 µs each.
  return JSON.stringify({ tier, guardrail, rule, mode, path, message, compliance, ...(connection === undefined ? {} : { connection }), ...(kind === undefined ? {} : { kind }) }).slice(1, -1);
}
