import { describe, expect, it } from 'vitest';
import { parseServeOptions } from '../../src/config/options.js';

describe('serve options', () => {
  it('has these defaults (a change here is a change users see)', () => {
    expect(parseServeOptions({})).toEqual({
      config: [],
      address: '0.0.0.0',
      port: 8443,
      metricsAddress: '0.0.0.0',
      metricsPort: 9090,
      certReloadIntervalMs: 10_000,
      webhookConfigurations: [],
      service: 'tierguard',
      ip: [],
      dns: [],
      certValidityMs: 90 * 86_400_000,
      caValidityMs: 730 * 86_400_000,
      certCheckIntervalMs: 300_000,
      failureMode: 'deny',
      namespace: 'tierguard',
      excludeNamespaces: ['kube-system'],
      maxBodyBytes: 7 * 1024 * 1024,
      celTimeoutMs: 100,
      networkCheckTimeoutMs: 2000,
      maxObjectValues: 200_000,
      maxValidations: 500,
      logLevel: 'info',
      inCluster: false,
      configPollIntervalMs: 2000,
      adminGroups: ['system:masters'],
      adminUsers: [],
      shutdownDelayMs: 5000,
      shutdownTimeoutMs: 15_000,
      auditIntervalMs: 3_600_000,
      reports: 'policyreport',
      leaseName: 'tierguard',
      leaseDurationMs: 15_000,
    });
  });

  it.each([
    { name: 'an unknown option', raw: { colour: 'blue' }, message: 'unknown option colour' },
    { name: 'a certificate without its key', raw: { tlsCert: 'tls.crt' }, message: '--tls-cert: --tls-cert and --tls-key go together' },
    { name: 'a bad failure mode', raw: { failureMode: 'ignore' }, message: '--failure-mode: Invalid option: expected one of "deny"|"allow"' },
    { name: 'a port out of range', raw: { port: 70000 }, message: '--port: Too big' },
    { name: 'an object limit below 100 values', raw: { maxObjectValues: 99 }, message: '--max-object-values: Too small' },
    { name: 'a limit of no validation at all', raw: { maxValidations: 0 }, message: '--max-validations: Too small' },
    { name: 'a certificate Secret without a cluster', raw: { tlsSecret: 'tierguard-tls' }, message: '--tls-secret: --tls-secret needs a cluster connection (in-cluster, or --kubeconfig)' },
    { name: 'a certificate Secret and files together', raw: { tlsSecret: 'tierguard-tls', inCluster: true, tlsCert: 'a', tlsKey: 'b' }, message: '--tls-secret: --tls-secret (self-managed certificates) and --tls-cert (certificate files) exclude each other' },
    { name: 'a CA that does not outlive its certificates', raw: { caValidityMs: 86_400_000, certValidityMs: 2 * 86_400_000 }, message: '--ca-validity: must be longer than --cert-validity (172800000 ms)' },
    { name: 'an empty admin group name', raw: { adminGroups: [''] }, message: '--admin-groups: Too small' },
    { name: 'a negative shutdown delay', raw: { shutdownDelayMs: -1 }, message: '--shutdown-delay: Too small' },
    { name: 'a certificate address that is no IP address', raw: { ip: ['127.0.0.300'] }, message: '--ip: not an IPv4 or IPv6 address' },
    { name: 'a certificate DNS name with an underscore', raw: { dns: ['my_host'] }, message: '--dns: not a DNS name' },
  ])('rejects $name', ({ raw, message }) => {
    expect(() => parseServeOptions(raw)).toThrow(message);
  });
});
