// The objects an application team writes by the organisation's conventions, which the bench's
// realistic set (bench/realistic-set.mjs, seed 1) and examples/policies admit in `payments`:
// - the API-latency driver creates the Pod and the NetworkPolicy (test/bench/apiserver-latency.ts);
// - the `*-admitted` scenarios of bench/run.mjs send the three to /validate as the API server
//   does, after tierguard's /mutate;
// - test/bench/realistic-set.test.ts checks that they are admitted.
//
// They carry the labels an application team sets: the app's name, part-of and version, its team
// and owner, the data classification, zone, backup policy and PCI scope, and the domain. `env` and
// `cost-center` are left to the namespace's defaults, which the mutating webhook injects where a
// guardrail declares them.

const labels = Object.freeze({
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
});

/** A Pod spec from the organisation's registry, non-root, with its own service account and limits. */
const podSpec = {
  serviceAccountName: 'api', securityContext: { runAsNonRoot: true },
  containers: [{
    name: 'api', image: 'registry.example.com/api:1.4.2',
    resources: { limits: { cpu: '100m', memory: '128Mi' } },
    securityContext: { allowPrivilegeEscalation: false, runAsNonRoot: true },
  }],
};

export const benchPod = {
  apiVersion: 'v1', kind: 'Pod',
  metadata: { name: 'bench', namespace: 'payments', labels },
  spec: podSpec,
};

/** Ingress to the api pods from the web pods of the same namespace, on one port. */
export const benchNetworkPolicy = {
  apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy',
  metadata: { name: 'api-allow-web', namespace: 'payments', labels },
  spec: {
    podSelector: { matchLabels: { app: 'api' } },
    policyTypes: ['Ingress'],
    ingress: [{ from: [{ podSelector: { matchLabels: { app: 'web' } } }], ports: [{ protocol: 'TCP', port: 8080 }] }],
  },
};

/** Two replicas of the Pod above: the labels on the Deployment and on its pod template. */
export const benchDeployment = {
  apiVersion: 'apps/v1', kind: 'Deployment',
  metadata: { name: 'api', namespace: 'payments', labels },
  spec: {
    replicas: 2,
    selector: { matchLabels: { app: 'api' } },
    template: { metadata: { labels }, spec: podSpec },
  },
};
