/**
 * `serve --tls-secret` end to end: tierguard makes its certificates in the cluster, publishes the
 * CA in its webhook configurations and rotates both serving certificate and CA while clients that
 * trust only what the webhook configuration says (as the API server does) keep connecting.
 * Lifetimes are seconds here so that several rotations happen within the test, but long enough
 * that a loaded machine renews each certificate before it expires: renewal starts with a third of
 * the lifetime left (4 s of a 12 s serving certificate, 12 s of a 36 s CA), and one renewal costs
 * an RSA key generation, which takes a few seconds on a busy 2-core machine. The test runs until
 * it has seen the rotations, not for a fixed time.
 * The cluster is the fake API server (test infrastructure on 127.0.0.1; no real Kubernetes here).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import type { TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseServeOptions } from '../../src/config/options.js';
import { startServer, type RunningServer } from '../../src/cli/serve.js';
import { splitPem } from '../../src/tls/rotation.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { review } from '../helpers/fixtures.js';
import { startFakeApiServer, type FakeApiServer } from '../helpers/fake-apiserver.js';
import { httpGet } from '../helpers/https.js';
import { waitFor } from '../helpers/wait-for.js';
import { sleep } from './support.js';

const SERVING_VALIDITY_MS = 12_000;
const CA_VALIDITY_MS = 36_000;

let fake: FakeApiServer;
let server: RunningServer;

beforeAll(async () => {
  fake = await startFakeApiServer();
  for (const resource of ['mutatingwebhookconfigurations', 'validatingwebhookconfigurations'] as const) {
    fake.create(resource, { metadata: { name: 'tierguard' }, webhooks: [{ name: 'x.tierguard.dev', clientConfig: { service: { name: 'tierguard', namespace: 'security' } } }] });
  }
  const kubeconfig = path.join(mkdtempSync(path.join(os.tmpdir(), 'tierguard-kubeconfig-')), 'config');
  writeFileSync(kubeconfig, fake.kubeConfig().exportConfig());
  server = await startServer(parseServeOptions({
    kubeconfig, address: '127.0.0.1', port: 0, metricsAddress: '127.0.0.1', metricsPort: 0,
    namespace: 'security', service: 'tierguard', tlsSecret: 'tierguard-tls', webhookConfigurations: ['tierguard'],
    certValidityMs: SERVING_VALIDITY_MS, caValidityMs: CA_VALIDITY_MS, certCheckIntervalMs: 250,
  }), silentLogger);
});

afterAll(async () => {
  await server?.close();
  await fake?.close();
});

/** What the API server trusts: the caBundle of the validating webhook, as the fake stores it now. */
function trustedBundle(): string {
  const config = fake.get('validatingwebhookconfigurations', 'tierguard') as any;
  return Buffer.from(config.webhooks[0].clientConfig.caBundle ?? '', 'base64').toString('utf8');
}

interface Answer {
  readonly status: number;
  readonly allowed?: boolean;
  readonly fingerprint: string;
  readonly issuer: string;
}

/** POST /validate over a new TLS connection (or `agent`'s), verifying the server as the API server would. */
function post(ca: string, agent: https.Agent | false): Promise<Answer> {
  const body = JSON.stringify(review('validate-create-pod'));
  return new Promise((resolve, reject) => {
    const req = https.request({
      host: '127.0.0.1', port: server.port, method: 'POST', path: '/validate?timeout=10s', ca, agent, servername: 'tierguard.security.svc',
      // As patient as the API server (the webhook's 10 s timeout): a key generation blocks this process for a while.
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }, timeout: 10_000,
    }, (res) => {
      const peer = (res.socket as TLSSocket).getPeerCertificate();
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const parsed = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        resolve({ status: res.statusCode ?? 0, allowed: parsed.response?.allowed, fingerprint: peer.fingerprint256, issuer: String(peer.issuer.serialNumber) });
      });
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end(body);
  });
}

describe('self-managed certificates under requests', () => {
  it('rotates the serving certificate and the CA without a single failed handshake or request', async () => {
    // The Service sends traffic only to a ready pod, and tierguard is ready once it serves the Secret's certificate.
    await waitFor(async () => (await httpGet(server.metricsPort, '/readyz')).status === 200, { what: '/readyz to answer 200' });
    let trusted = trustedBundle();
    // How many CAs the bundle held, each time that changed: 1, 2 (old and new side by side), 1 again.
    const bundleSizes = [splitPem(trusted).length];
    const refresh = setInterval(() => {
      trusted = trustedBundle();
      const size = splitPem(trusted).length;
      if (size !== bundleSizes.at(-1)) bundleSizes.push(size);
    }, 100);
    const answers: Answer[] = [];
    const failures: string[] = [];
    const servingCertificates = new Set<string>();
    const issuers = new Set<string>();
    // Done once both rotations were seen (three serving certificates from two CAs, and the CA
    // bundle back to one CA after the old one expired), or at the first failure.
    const seenEnough = () => failures.length > 0 || (servingCertificates.size >= 3 && issuers.size >= 2 && bundleSizes.length >= 3);
    let done = false;
    const keepAlive = new https.Agent({ keepAlive: true, maxSockets: 1 });
    const worker = async (agent: https.Agent | false) => {
      while (!done) {
        try {
          const answer = await post(trusted, agent);
          answers.push(answer);
          servingCertificates.add(answer.fingerprint);
          issuers.add(answer.issuer);
        } catch (error) {
          failures.push((error as Error).message);
        }
        await sleep(5);
      }
    };
    const workers = Promise.all([worker(false), worker(false), worker(false), worker(keepAlive)]);
    try {
      await waitFor(seenEnough, { what: 'two serving certificate rotations and a CA rotation', timeoutMs: CA_VALIDITY_MS * 3, intervalMs: 100 });
    } finally {
      done = true;
      await workers;
      clearInterval(refresh);
      keepAlive.destroy();
    }
    process.stdout.write(`self-managed rotation under load: ${answers.length} requests, ${servingCertificates.size} serving certificates, ${issuers.size} CAs, CA bundle sizes ${bundleSizes.join(' → ')}, ${failures.length} failures\n`);
    expect(failures.join('\n')).toBe('');
    expect(answers.length).toBeGreaterThan(100);
    expect(answers.every((answer) => answer.status === 200 && answer.allowed === true)).toBe(true);
    expect(servingCertificates.size).toBeGreaterThanOrEqual(3);
    expect(issuers.size).toBeGreaterThanOrEqual(2);
    // Old and new CA were trusted side by side during the change, and the old one left after it expired.
    expect(bundleSizes.slice(0, 3)).toEqual([1, 2, 1]);
  }, CA_VALIDITY_MS * 4);
});
