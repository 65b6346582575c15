/**
 * Focused regression tests for what the fuzz test (fuzz.test.ts) found, through the real HTTPS
 * webhook on 127.0.0.1.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../src/cli/serve.js';
import { parseServeOptions } from '../../src/config/options.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { fixturePath, review } from '../helpers/fixtures.js';
import { request } from '../helpers/https.js';
import { testCertificates, type TestCertificates } from '../helpers/tls.js';

let server: RunningServer;
let certs: TestCertificates;

beforeAll(async () => {
  certs = testCertificates();
  server = await startServer(parseServeOptions({
    config: [fixturePath('policies', 'label-guardrails.yaml')], address: '127.0.0.1', port: 0, metricsAddress: '127.0.0.1', metricsPort: 0,
    tlsCert: certs.certFile, tlsKey: certs.keyFile,
  }), silentLogger);
});
afterAll(async () => { await server?.close(); });

async function kindLabels(): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (const value of (await server.metrics.requests.get()).values) counts.set(String(value.labels.kind), (counts.get(String(value.labels.kind)) ?? 0) + value.value);
  for (const value of (await server.metrics.duration.get()).values) if (!counts.has(String(value.labels.kind))) counts.set(String(value.labels.kind), 0);
  return counts;
}

describe('metric labels never take a value from the request unchecked', () => {
  // Found by the fuzz test: `request.kind.kind` went straight into the `kind` label of
  // tierguard_admission_requests_total and _duration_seconds, so every new kind — or a 300 KB
  // one — added series for good, in memory and in every scrape.
  it.each([
    { name: 'a kind tierguard is not registered for', group: '', kind: 'Secret' },
    { name: 'a checked kind name in another group', group: 'evil.example.com', kind: 'Pod' },
    { name: 'a 300 KB kind', group: '', kind: 'K'.repeat(300_000) },
  ])('counts $name as kind="other" and still answers it', async ({ group, kind }) => {
    const before = (await kindLabels()).get('other') ?? 0;
    const body = review('validate-create-pod');
    body.request.kind = { group, version: 'v1', kind };
    const answer = await request({ port: server.port, ca: certs.caCert, path: '/validate', body: JSON.stringify(body) });
    expect(answer.json().response).toEqual({ uid: body.request.uid, allowed: true });
    const after = await kindLabels();
    expect(after.get('other')).toBe(before + 1);
    expect([...after.keys()].filter((label) => label !== 'other' && label !== 'Pod' && label !== 'unknown')).toEqual([]);
  });

  it('keeps the kinds tierguard checks as they are', async () => {
    await request({ port: server.port, ca: certs.caCert, path: '/validate', body: JSON.stringify(review('validate-create-deployment')) });
    expect((await kindLabels()).get('Deployment')).toBe(1);
  });
});
