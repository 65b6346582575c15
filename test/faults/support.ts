/** Policies and requests shared by the fault tests (waiting: test/helpers/wait-for.ts). */
import { review } from '../helpers/fixtures.js';
import { withUid, type Shot } from './load.js';

const TIER = 'apiVersion: tierguard.dev/v1alpha1\nkind: Tier\nmetadata: {name: security}\nspec: {priority: 100}\n';

/** A policy set whose one Enforce guardrail requires the Pod label `key`. */
export function requireLabel(key: string): string {
  return `${TIER}---
apiVersion: tierguard.dev/v1alpha1
kind: Guardrail
metadata: {name: require-${key}}
spec:
  tier: security
  priority: 10
  labels:
    match: {resources: [Pod]}
    required: [{key: ${key}}]
`;
}

/**
 * Broken the way a hand edit breaks a file: the Tier document first (on its own a valid, weaker
 * set: no guardrail at all), then a guardrail with a misspelt field, which does not compile.
 */
export const BROKEN = `${TIER}---
apiVersion: tierguard.dev/v1alpha1
kind: Guardrail
metadata: {name: require-team}
spec:
  tier: security
  priority: 10
  labels:
    match: {resources: [Pod]}
    requried: [{key: team}]
`;

/** Where a writer that stops half-way leaves BROKEN: a complete, valid Tier document and no guardrail. */
export const BROKEN_SPLIT = TIER.length;

/** A Pod CREATE for /validate with these labels, tagged. */
export function podShot(tag: string, labels: Record<string, string>): Shot {
  const body = review('validate-create-pod');
  body.request.object.metadata.labels = labels;
  return { path: '/validate', tag, body: withUid(body).body };
}

/** Waits `ms` milliseconds: to pace traffic, or before asserting that something did *not* happen. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
