/**
 * `serve --kubeconfig` end to end: the real HTTPS webhook backed by the cluster layer, against
 * the fake list/watch API server (test infrastructure on 127.0.0.1, no real Kubernetes here).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseServeOptions } from '../../src/config/options.js';
import { startServer, type RunningServer } from '../../src/cli/serve.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { review } from '../helpers/fixtures.js';
import { startFakeApiServer, type FakeApiServer } from '../helpers/fake-apiserver.js';
import { request } from '../helpers/https.js';
import { testCertificates, type TestCertificates } from '../helpers/tls.js';

let fake: FakeApiServer;
let server: RunningServer;
let certs: TestCertificates;

const tier = { apiVersion: 'tierguard.dev/v1alpha1', kind: 'Tier', metadata: { name: 'security', generation: 1 }, spec: { priority: 100 } };
const domainGuardrail = {
  apiVersion: 'tierguard.dev/v1alpha1',
  kind: 'Guardrail',
  metadata: { name: 'domain', generation: 1 },
  spec: { tier: 'security', priority: 10, labels: { match: { resources: ['Pod'], namespaces: { matchLabels: { env: 'prod' } } }, required: [{ key: 'segment.example.com/domain' }] } },
};

beforeAll(async () => {
  certs = testCertificates();
  fake = await startFakeApiServer({ certificates: certs });
  fake.create('tiers', tier);
  fake.create('namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'payments', labels: { env: 'dev' } } });
  const kubeconfig = path.join(mkdtempSync(path.join(os.tmpdir(), 'tierguard-kubeconfig-')), 'config');
  writeFileSync(kubeconfig, fake.kubeConfig().exportConfig());
  server = await startServer(parseServeOptions({
    kubeconfig, address: '127.0.0.1', port: 0, metricsAddress: '127.0.0.1', metricsPort: 0, tlsCert: certs.certFile, tlsKey: certs.keyFile,
  }), silentLogger);
});

afterAll(async () => {
  await server?.close();
  await fake?.close();
});

async function ready(): Promise<number> {
  return (await request({ port: server.port, ca: certs.caCert, method: 'GET', path: '/readyz' })).status;
}

async function validatePod() {
  return (await request({ port: server.port, ca: certs.caCert, path: '/validate', body: JSON.stringify(review('validate-create-pod')) })).json().response;
}

describe('serve in a cluster', () => {
  it('becomes ready once the watches have synced, then follows guardrails and namespace labels as they change', async () => {
    let status = 0;
    for (let i = 0; i < 100 && status !== 200; i++) {
      status = await ready();
      if (status !== 200) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(status).toBe(200);
    expect((await validatePod()).allowed).toBe(true);

    fake.create('guardrails', domainGuardrail);
    // The namespace is env=dev: the new guardrail does not select it yet.
    const reloads = async () => (await server.metrics.reloads.get()).values.find((v) => v.labels.result === 'success')?.value ?? 0;
    for (let i = 0; i < 100 && (await reloads()) < 2; i++) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(await reloads()).toBeGreaterThanOrEqual(2);
    expect((await validatePod()).allowed).toBe(true);

    fake.update('namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'payments', labels: { env: 'prod' } } });
    let answer = await validatePod();
    for (let i = 0; i < 100 && answer.allowed; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      answer = await validatePod();
    }
    expect(answer.allowed).toBe(false);
    expect(answer.status.message).toContain('missing required label segment.example.com/domain (tier security, guardrail domain)');
  });
});

describe('serve in a cluster that already holds a broken guardrail', () => {
  it('becomes ready on the valid objects instead of never, and enforces them', async () => {
    const brokenFake = await startFakeApiServer({ certificates: certs });
    brokenFake.create('tiers', tier);
    brokenFake.create('namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'payments', labels: { env: 'prod' } } });
    brokenFake.create('guardrails', domainGuardrail);
    brokenFake.create('guardrails', { apiVersion: 'tierguard.dev/v1alpha1', kind: 'Guardrail', metadata: { name: 'broken', generation: 1 }, spec: { tier: 'nope', priority: 1, labels: { match: { resources: ['Pod'] }, required: [{ key: 'x' }] } } });
    const kubeconfig = path.join(mkdtempSync(path.join(os.tmpdir(), 'tierguard-kubeconfig-')), 'config');
    writeFileSync(kubeconfig, brokenFake.kubeConfig().exportConfig());
    const second = await startServer(parseServeOptions({
      kubeconfig, address: '127.0.0.1', port: 0, metricsAddress: '127.0.0.1', metricsPort: 0, tlsCert: certs.certFile, tlsKey: certs.keyFile,
    }), silentLogger);
    try {
      let status = 0;
      for (let i = 0; i < 100 && status !== 200; i++) {
        status = (await request({ port: second.port, ca: certs.caCert, method: 'GET', path: '/readyz' })).status;
        if (status !== 200) await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(status).toBe(200);
      const answer = (await request({ port: second.port, ca: certs.caCert, path: '/validate', body: JSON.stringify(review('validate-create-pod')) })).json().response;
      expect(answer.allowed).toBe(false);
      expect(answer.status.message).toContain('guardrail domain');
      expect(answer.status.message).not.toContain('broken');
      for (let i = 0; i < 100 && !brokenFake.statusPatches.some((p) => JSON.stringify(p).includes('"False"')); i++) await new Promise((resolve) => setTimeout(resolve, 20));
      expect(brokenFake.statusPatches.some((p) => JSON.stringify(p).includes('broken') && JSON.stringify(p).includes('"False"'))).toBe(true);
    } finally {
      await second.close();
      await brokenFake.close();
    }
  });
});
