/** The objects of the background audit's real-cluster tests: prod and dev namespaces, Pods, and a Guardrail that a NetworkPolicy created before it overrides. */
export const namespace = (name: string, labels: Record<string, string>) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels } });
export const pod = (ns: string, name: string, labels: Record<string, string>) => ({
  apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: ns, labels }, spec: { containers: [{ name: 'app', image: 'registry.example/app:1' }] },
});
export const fromNamespaces = (ns: string, name: string, env: string) => ({
  apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name, namespace: ns },
  spec: { podSelector: {}, ingress: [{ from: [{ namespaceSelector: { matchLabels: { env } } }], ports: [{ protocol: 'TCP', port: 5432 }] }] },
});
export const TIER = { apiVersion: 'tierguard.dev/v1alpha1', kind: 'Tier', metadata: { name: 'security' }, spec: { priority: 100 } };
export const GUARDRAIL = {
  apiVersion: 'tierguard.dev/v1alpha1', kind: 'Guardrail', metadata: { name: 'no-dev-to-prod' },
  spec: {
    tier: 'security', priority: 10, compliance: ['PCI-DSS 1.3'],
    subject: { namespaces: { matchLabels: { env: 'prod' } } },
    ingress: [{ name: 'deny-dev', action: 'Deny', from: [{ namespaces: { matchLabels: { env: 'dev' } } }] }],
  },
};
