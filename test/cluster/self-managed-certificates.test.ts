/**
 * Self-managed certificates against the fake API server (test infrastructure on 127.0.0.1 that
 * speaks Secret create/replace with conflicts and webhook-configuration JSON patches; no real
 * Kubernetes here): first start, replicas racing, rotation, damage and outages.
 */
import { X509Certificate } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startSelfManagedCertificates, type SelfManagedCertificates } from '../../src/cluster/self-managed-certificates.js';
import { createKubeClient } from '../../src/cluster/kube-client.js';
import type { KeyPair } from '../../src/tls/certs.js';
import { splitPem, type RotationPolicy } from '../../src/tls/rotation.js';
import { startFakeApiServer, type FakeApiServer } from '../helpers/fake-apiserver.js';
import { testCertificates } from '../helpers/tls.js';
import { waitFor } from '../helpers/wait-for.js';
import { recordingLogger } from './support.js';

const DAY = 86_400_000;
const policy: RotationPolicy = { caValidityMs: 310 * DAY, servingValidityMs: 30 * DAY, renewFraction: 1 / 3, dnsNames: ['tierguard', 'tierguard.security.svc'], ipAddresses: [] };
const SECRET = { resource: 'secrets', name: 'tierguard-tls', namespace: 'security' } as const;

const apiServerCertificates = testCertificates();
let fake: FakeApiServer;
let running: SelfManagedCertificates[];

beforeEach(async () => {
  fake = await startFakeApiServer({ certificates: apiServerCertificates });
  running = [];
  for (const resource of ['mutatingwebhookconfigurations', 'validatingwebhookconfigurations'] as const) {
    fake.create(resource, {
      metadata: { name: 'tierguard' },
      webhooks: ['a.tierguard.dev', 'b.tierguard.dev'].map((name) => ({ name, clientConfig: { service: { name: 'tierguard', namespace: 'security', path: '/validate' } }, rules: [{ operations: ['CREATE'] }] })),
    });
  }
});

afterEach(async () => {
  for (const certificates of running) certificates.stop();
  await fake.close();
});

/** One replica; `now` is its clock (real time by default). */
function replica(options: { now?: () => Date; webhookConfigurations?: string[]; checkIntervalMs?: number } = {}) {
  const applied: KeyPair[] = [];
  const logger = recordingLogger();
  const certificates = startSelfManagedCertificates({
    client: createKubeClient({ kubeConfig: fake.kubeConfig() }),
    namespace: SECRET.namespace,
    secretName: SECRET.name,
    webhookConfigurations: options.webhookConfigurations ?? ['tierguard'],
    policy,
    checkIntervalMs: options.checkIntervalMs ?? 3_600_000,
    apply: (pair) => applied.push(pair),
    logger,
    ...(options.now ? { now: options.now } : {}),
  });
  running.push(certificates);
  return { certificates, applied, logger };
}

function secretData(): Record<string, string> {
  const secret = fake.get(SECRET.resource, SECRET.name, SECRET.namespace) as { data: Record<string, string> } | undefined;
  return Object.fromEntries(Object.entries(secret?.data ?? {}).map(([key, value]) => [key, Buffer.from(value, 'base64').toString('utf8')]));
}

/** Every caBundle of every webhook of both configurations, decoded. */
function publishedBundles(): string[] {
  return (['mutatingwebhookconfigurations', 'validatingwebhookconfigurations'] as const).flatMap((resource) =>
    ((fake.get(resource, 'tierguard') as any).webhooks as any[]).map((webhook) => Buffer.from(webhook.clientConfig.caBundle ?? '', 'base64').toString('utf8')));
}

function signedBy(cert: string, ca: string): boolean {
  const issued = new X509Certificate(cert);
  const authority = new X509Certificate(ca);
  return issued.checkIssued(authority) && issued.verify(authority.publicKey);
}

describe('self-managed certificates', () => {
  it('creates the Secret on first start, fills the caBundle of every webhook, and serves the stored pair', async () => {
    const { certificates, applied } = replica();
    await waitFor(() => certificates.ready(), { what: 'the first certificate' });
    const stored = secretData();
    expect(Object.keys(stored).sort()).toEqual(['ca.crt', 'ca.key', 'tls.crt', 'tls.key']);
    expect((fake.get(SECRET.resource, SECRET.name, SECRET.namespace) as any).type).toBe('kubernetes.io/tls');
    expect(applied).toEqual([{ cert: stored['tls.crt'], key: stored['tls.key'] }]);
    expect(signedBy(stored['tls.crt']!, stored['ca.crt']!)).toBe(true);
    expect(publishedBundles()).toEqual(Array(4).fill(stored['ca.crt']));
    // Only the caBundle was touched, after testing the resourceVersion: the rules are intact.
    expect((fake.get('validatingwebhookconfigurations', 'tierguard') as any).webhooks[1].rules).toEqual([{ operations: ['CREATE'] }]);
    for (const { operations } of fake.jsonPatches) {
      expect((operations as { op: string; path: string }[]).map((op) => `${op.op} ${op.path}`)).toEqual(['test /metadata/resourceVersion', 'add /webhooks/0/clientConfig/caBundle', 'add /webhooks/1/clientConfig/caBundle']);
    }
  });

  it('lets two replicas race to create the Secret: one creates it, the other gets 409 and uses the same pair', async () => {
    const first = replica();
    const second = replica();
    await waitFor(() => first.certificates.ready() && second.certificates.ready(), { what: 'both replicas' });
    const posts = fake.requests.filter((r) => r.method === 'POST' && r.path === '/api/v1/namespaces/security/secrets');
    expect(posts).toHaveLength(2);
    expect(fake.count({ method: 'GET', path: '/api/v1/namespaces/security/secrets/tierguard-tls' })).toBeGreaterThanOrEqual(3);
    const stored = secretData();
    expect(first.applied).toEqual([{ cert: stored['tls.crt'], key: stored['tls.key'] }]);
    expect(second.applied).toEqual(first.applied);
    expect(second.logger.lines.concat(first.logger.lines).filter((line) => line.message.startsWith('another replica wrote the certificate Secret first'))).toHaveLength(1);
    expect(publishedBundles()).toEqual(Array(4).fill(stored['ca.crt']));
  });

  it('reuses a stored Secret on restart without writing anything', async () => {
    const first = replica();
    await waitFor(() => first.certificates.ready(), { what: 'the first replica' });
    first.certificates.stop();
    const writes = () => fake.requests.filter((r) => r.method !== 'GET').length;
    const before = writes();
    const again = replica();
    await waitFor(() => again.certificates.ready(), { what: 'the restarted replica' });
    expect(writes()).toBe(before);
    expect(again.applied).toEqual(first.applied);
  });

  it('rotates the serving certificate when it is due, and the other replica picks the new one up from the Secret', async () => {
    let now = new Date();
    const first = replica({ now: () => now });
    const second = replica({ now: () => now });
    await waitFor(() => first.certificates.ready() && second.certificates.ready(), { what: 'both replicas' });
    const ca = secretData()['ca.crt'];
    now = new Date(now.getTime() + 21 * DAY);
    // Both notice at once: one writes, the other's stale write gets 409 and it takes the stored pair.
    await Promise.all([first.certificates.reconcile(), second.certificates.reconcile()]);
    const stored = secretData();
    expect(stored['ca.crt']).toBe(ca);
    expect(first.applied).toHaveLength(2);
    expect(first.applied[1]).toEqual({ cert: stored['tls.crt'], key: stored['tls.key'] });
    expect(second.applied[1]).toEqual(first.applied[1]);
    expect(fake.requests.filter((r) => r.method === 'PUT')).toHaveLength(2);
  });

  it('rotates the CA: the new CA is published beside the old before any certificate it signed is served', async () => {
    let now = new Date();
    const { certificates, applied } = replica({ now: () => now });
    await waitFor(() => certificates.ready(), { what: 'the first certificate' });
    const oldCa = secretData()['ca.crt']!;
    for (let day = 20; day <= 200; day += 20) {
      now = new Date(Date.now() + day * DAY);
      await certificates.reconcile();
    }
    const servedBefore = applied.at(-1)!;
    now = new Date(Date.now() + 210 * DAY);
    await certificates.reconcile();
    const [newCa, kept] = splitPem(secretData()['ca.crt']!);
    expect(kept).toBe(oldCa);
    expect(publishedBundles()).toEqual(Array(4).fill(newCa! + kept!));
    expect(applied.at(-1)).toEqual(servedBefore);
    expect(signedBy(servedBefore.cert, oldCa)).toBe(true);

    // The next check at once (a watch event of its own write can bring it) still serves the old
    // CA's certificate: the API server may not have loaded the new bundle yet.
    await certificates.reconcile();
    expect(applied.at(-1)).toEqual(servedBefore);
    // A minute later the new CA signs.
    now = new Date(now.getTime() + 61_000);
    await certificates.reconcile();
    expect(signedBy(applied.at(-1)!.cert, newCa!)).toBe(true);
    expect(publishedBundles()).toEqual(Array(4).fill(newCa! + kept!));
  });

  it('replaces a damaged Secret with new certificates', async () => {
    fake.create('secrets', { metadata: { name: SECRET.name, namespace: SECRET.namespace }, type: 'Opaque', data: { 'tls.crt': Buffer.from('garbage').toString('base64') } });
    const { certificates, applied } = replica();
    await waitFor(() => certificates.ready(), { what: 'the first certificate' });
    const stored = secretData();
    expect(signedBy(stored['tls.crt']!, stored['ca.crt']!)).toBe(true);
    expect(applied[0]!.cert).toBe(stored['tls.crt']);
    // The type of an existing Secret cannot change.
    expect((fake.get(SECRET.resource, SECRET.name, SECRET.namespace) as any).type).toBe('Opaque');
  });

  it('keeps retrying while the API server fails, and is not ready until it has a certificate', async () => {
    fake.failNext({ method: 'GET', pathPrefix: '/api/v1/namespaces/security/secrets', status: 503, count: 3 });
    const { certificates, logger } = replica();
    expect(certificates.ready()).toBe(false);
    await waitFor(() => certificates.ready(), { what: 'the first certificate after the outage' });
    expect(logger.lines.filter((line) => line.message === 'certificate check failed; retrying')).toHaveLength(3);
  });

  it('serves but is not ready while a named webhook configuration is missing, says which, and is ready once it exists and trusts the CA', async () => {
    const { certificates, applied, logger } = replica({ webhookConfigurations: ['tierguard', 'absent'] });
    await waitFor(() => applied.length > 0, { what: 'the first certificate' });
    await waitFor(() => logger.lines.some((line) => line.message.startsWith('webhook configuration not found')), { what: 'the log line' });
    expect(certificates.ready()).toBe(false);
    expect(logger.lines.find((line) => line.message.startsWith('webhook configuration not found'))).toMatchObject({ level: 'warn', message: 'webhook configuration not found: not ready until it exists and trusts the CA', fields: { names: ['absent'] } });
    expect(publishedBundles()).toEqual(Array(4).fill(secretData()['ca.crt']));

    fake.create('validatingwebhookconfigurations', { metadata: { name: 'absent' }, webhooks: [{ name: 'c.tierguard.dev', clientConfig: { service: { name: 'tierguard', namespace: 'security', path: '/validate' } } }] });
    await waitFor(() => certificates.ready(), { what: 'readiness once the configuration exists' });
    const absent = fake.get('validatingwebhookconfigurations', 'absent') as unknown as { webhooks: { clientConfig: { caBundle?: string } }[] };
    expect(Buffer.from(absent.webhooks[0]?.clientConfig.caBundle ?? '', 'base64').toString('utf8')).toBe(secretData()['ca.crt']);
  });
});
