/**
 * The Pod and the NetworkPolicy the API-latency driver creates in `payments` (apiserver-latency.ts),
 * and that test/bench/realistic-set.test.ts checks: both policy sets it is run with must admit
 * them, so that each measures an admitted CREATE. Those are examples/policies and the realistic
 * set of bench/realistic-set.mjs (seed 1).
 *
 * They carry the labels an application team sets by the organisation's conventions: the app's
 * name, part-of and version, its team and owner, the data classification, zone, backup policy
 * and PCI scope, and the domain. `env` and `cost-center` are left to the namespace's defaults,
 * which the mutating webhook injects where a guardrail declares them.
 */

const labels = {
  app: 'api',
  'app.kubernetes.io/name': 'api',
  'app.kubernetes.io/part-of': 'payments',
  'app.kubernetes.io/version': '1.4.2',
  team: 'payments-api',
  owner: 'payments.team',
  'segment.tierguard.dev/domain': 'payments',
  'data.tierguard.dev/classification': 'internal',
  'security.tierguard.dev/zone': 'internal',
  'backup.tierguard.dev/policy': 'daily',
  'pci.tierguard.dev/scope': 'in',
} as const;

/** A Pod from the organisation's registry, non-root, with its own service account and limits. */
export const benchPod = {
  apiVersion: 'v1', kind: 'Pod',
  metadata: { name: 'bench', namespace: 'payments', labels },
  spec: {
    serviceAccountName: 'api', securityContext: { runAsNonRoot: true },
    containers: [{
      name: 'api', image: 'registry.example.com/api:1.4.2',
      resources: { limits: { cpu: '100m', memory: '128Mi' } },
      securityContext: { allowPrivilegeEscalation: false, runAsNonRoot: true },
    }],
  },
} as const;

/** Ingress to the api pods from the web pods of the same namespace, on one named port. */
export const benchNetworkPolicy = {
  apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy',
  metadata: { name: 'api-allow-web', namespace: 'payments', labels },
  spec: {
    podSelector: { matchLabels: { app: 'api' } },
    policyTypes: ['Ingress'],
    ingress: [{ from: [{ podSelector: { matchLabels: { app: 'web' } } }], ports: [{ protocol: 'TCP', port: 8080 }] }],
  },
} as const;
