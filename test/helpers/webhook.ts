/**
 * The real webhook, started in-process on 127.0.0.1 with a test certificate around the tests of a
 * file (or of a `describe`), and a `post` that checks the answer is a well-formed AdmissionReview.
 */
import { afterAll, beforeAll, expect } from 'vitest';
import { startServer, type RunningServer } from '../../src/cli/serve.js';
import { parseServeOptions } from '../../src/config/options.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { httpGet, request } from './https.js';
import { testCertificates, type TestCertificates } from './tls.js';

export interface TestWebhook {
  /** The running server; only inside tests (it starts in `beforeAll`). */
  readonly server: RunningServer;
  readonly certs: TestCertificates;
  /** POSTs `body` as JSON; expects HTTP 200 with an `admission.k8s.io/v1` AdmissionReview and returns its `response`. */
  post(path: '/mutate' | '/validate', body: unknown): Promise<any>;
  /** The metrics endpoint as `series → value`, e.g. `tierguard_admission_requests_total{...}` → 3. */
  scrape(): Promise<Map<string, number>>;
}

/** Registers `beforeAll`/`afterAll` for a server with `options` (serve options, e.g. `config`) added to the test defaults. */
export function useTestWebhook(options: Record<string, unknown>): TestWebhook {
  const certs = testCertificates();
  let running: RunningServer | undefined;
  beforeAll(async () => {
    running = await startServer(parseServeOptions({
      address: '127.0.0.1', port: 0, metricsAddress: '127.0.0.1', metricsPort: 0, tlsCert: certs.certFile, tlsKey: certs.keyFile, ...options,
    }), silentLogger);
  });
  afterAll(async () => {
    await running?.close();
  });
  const webhook: TestWebhook = {
    get server(): RunningServer {
      if (!running) throw new Error('the test webhook is not started yet (use it inside a test)');
      return running;
    },
    certs,
    async post(path, body) {
      const answer = await request({ port: webhook.server.port, ca: certs.caCert, path, body: JSON.stringify(body) });
      expect(answer.status).toBe(200);
      expect(answer.headers['content-type']).toMatch(/^application\/json/);
      const reviewOut = answer.json();
      expect(reviewOut).toMatchObject({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' });
      return reviewOut.response;
    },
    async scrape() {
      const answer = await httpGet(webhook.server.metricsPort, '/metrics');
      expect(answer.status).toBe(200);
      const series = new Map<string, number>();
      for (const line of answer.text.split('\n')) {
        if (!line || line.startsWith('#')) continue;
        const at = line.lastIndexOf(' ');
        series.set(line.slice(0, at), Number(line.slice(at + 1)));
      }
      return series;
    },
  };
  return webhook;
}
