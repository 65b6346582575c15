/** A policy set and objects for the audit tests: label, CEL (reading and not reading the request), network Deny and Accept-only guardrails. */
import type { PolicySet } from '../../src/engine/policy-set.js';
import { compilePolicySet } from '../../src/policy/compile.js';
import { parseManifestText } from '../../src/policy/manifests.js';

export const POLICIES = `
apiVersion: tierguard.dev/v1alpha1
kind: Tier
metadata: {name: security}
spec: {priority: 100}
---
apiVersion: tierguard.dev/v1alpha1
kind: Guardrail
metadata: {name: team-label}
spec:
  tier: security
  priority: 1
  labels:
    match: {resources: [Pod]}
    required: [{key: team}]
---
apiVersion: tierguard.dev/v1alpha1
kind: Guardrail
metadata: {name: cel}
spec:
  tier: security
  priority: 2
  mode: Warn
  validations:
    - {resources: [Pod], expression: "object.spec.containers.all(c, c.image.startsWith('registry.example.com/'))", message: object-only}
    - {resources: [Pod], expression: "request.operation == 'UPDATE'", message: reads-request}
    - {resources: [Pod], expression: "oldObject != null", message: reads-old-object}
---
apiVersion: tierguard.dev/v1alpha1
kind: Guardrail
metadata: {name: prod-isolation}
spec:
  tier: security
  priority: 3
  subject:
    pods:
      namespaceSelector: {matchLabels: {env: prod}}
      podSelector: {matchLabels: {tier: backend}}
  ingress:
    - {name: deny-from-dev, action: Deny, from: [{namespaces: {matchLabels: {env: dev}}}]}
---
apiVersion: tierguard.dev/v1alpha1
kind: Guardrail
metadata: {name: prod-egress}
spec:
  tier: security
  priority: 4
  mode: Audit
  subject:
    namespaces: {matchLabels: {env: prod}}
  egress:
    - {name: no-internet, action: Deny, to: [{networks: ["0.0.0.0/0"]}]}
---
apiVersion: tierguard.dev/v1alpha1
kind: Guardrail
metadata: {name: accept-only}
spec:
  tier: security
  priority: 5
  subject:
    namespaces: {matchLabels: {env: prod}}
  ingress:
    - {name: monitoring, action: Accept, from: [{namespaces: {matchLabels: {team: monitoring}}}]}
`;

export function policySet(): PolicySet {
  const { documents } = parseManifestText(POLICIES, 'policies.yaml');
  const { set, problems } = compilePolicySet({ documents }, { generation: 1, shadows: 'none' });
  if (!set) throw new Error(problems.map((problem) => problem.message).join('; '));
  return set;
}

export const namespace = (name: string, labels: Record<string, string>) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels } });
export const pod = (ns: string, name: string, labels: Record<string, string>, image = 'registry.example.com/app:1') => ({
  apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: ns, labels }, spec: { containers: [{ name: 'c', image }] },
});
export const networkPolicy = (ns: string, name: string, spec: Record<string, unknown>) => ({ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name, namespace: ns, labels: { team: 'x' } }, spec });

