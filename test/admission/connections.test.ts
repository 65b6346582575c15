/**
 * The API server's connections to the webhook, over real HTTPS on 127.0.0.1: it sends every
 * AdmissionReview of a webhook over a few keep-alive connections (HTTP/1.1 only, kubernetes#82090),
 * so a connection must carry any number of POSTs whatever their answers, and outlive a quiet spell,
 * or each call would pay a new TLS handshake (issue 11). Only a body over the limit, whose rest is
 * never read, closes its connection. Each POST is one observation of the duration histogram.
 */
import https from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixturePath, review } from '../helpers/fixtures.js';
import { postBytes } from '../helpers/post-bytes.js';
import { useTestWebhook } from '../helpers/webhook.js';

const MAX_BODY_BYTES = 64 * 1024;
const webhook = useTestWebhook({ config: [fixturePath('policies', 'label-guardrails.yaml')], maxBodyBytes: MAX_BODY_BYTES });

function connection(): https.Agent {
  return new https.Agent({ keepAlive: true, maxSockets: 1, ca: webhook.certs.caCert });
}

function post(agent: https.Agent, options: { path: string; body: string; contentType?: string }) {
  return postBytes({
    agent, port: webhook.server.port, path: options.path, body: Buffer.from(options.body),
    contentType: options.contentType ?? 'application/json', contentLength: true, timeoutMs: 10_000,
  });
}

describe('one keep-alive connection carries the admission POSTs', () => {
  let agent: https.Agent;
  beforeAll(async () => {
    agent = connection();
    expect((await post(agent, { path: '/validate', body: JSON.stringify(review('validate-create-pod')) })).reusedSocket).toBe(false);
  });
  afterAll(() => agent.destroy());

  it.each([
    { name: 'a Pod to patch', path: '/mutate?timeout=10s', body: JSON.stringify(review('mutate-create-pod')), code: undefined },
    { name: 'a Pod to deny', path: '/validate?timeout=10s', body: JSON.stringify(review('validate-create-pod')), code: 403 },
    { name: 'a NetworkPolicy', path: '/validate', body: JSON.stringify(review('validate-create-networkpolicy')), code: 403 },
    { name: 'a body that is not JSON', path: '/validate', body: '{"apiVersion": ', code: 400 },
    { name: 'an empty body', path: '/mutate', body: '', code: 400 },
    { name: 'the wrong Content-Type', path: '/validate', body: JSON.stringify(review('validate-create-pod')), contentType: 'text/plain', code: 400 },
  ])('$name is answered on the same connection', async ({ path, body, contentType, code }) => {
    const answer = await post(agent, { path, body, ...(contentType ? { contentType } : {}) });
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.text).response.status?.code).toBe(code);
    expect(answer.reusedSocket).toBe(true);
  });

  it('still carries them after a quiet spell longer than node\'s default keep-alive (5 s, closed at 6 s)', async () => {
    await new Promise((resolve) => setTimeout(resolve, 7_000));
    const answer = await post(agent, { path: '/validate', body: JSON.stringify(review('validate-create-pod')) });
    expect(JSON.parse(answer.text).response.status.code).toBe(403);
    expect(answer.reusedSocket).toBe(true);
  }, 20_000);
});

describe('a body over the limit closes its connection', () => {
  it('answers 413, then the next POST opens a new connection and is answered', async () => {
    const agent = connection();
    try {
      await post(agent, { path: '/validate', body: JSON.stringify(review('validate-create-pod')) });
      const big = JSON.stringify({ ...review('validate-create-pod'), padding: 'x'.repeat(MAX_BODY_BYTES) });
      const refused = await post(agent, { path: '/validate', body: big });
      expect(JSON.parse(refused.text).response.status.code).toBe(413);
      const next = await post(agent, { path: '/validate', body: JSON.stringify(review('validate-create-pod')) });
      expect(JSON.parse(next.text).response.status.code).toBe(403);
      expect(next.reusedSocket).toBe(false);
    } finally {
      agent.destroy();
    }
  });
});

describe('the duration histogram', () => {
  it('observes each admission POST once, under its kind, refused ones as unknown', async () => {
    const agent = connection();
    const before = await webhook.scrape();
    try {
      await post(agent, { path: '/mutate', body: JSON.stringify(review('mutate-create-pod')) });
      await post(agent, { path: '/validate', body: JSON.stringify(review('validate-create-networkpolicy')) });
      await post(agent, { path: '/validate', body: 'null', contentType: 'text/plain' });
    } finally {
      agent.destroy();
    }
    const after = await webhook.scrape();
    const delta = (series: string) => (after.get(series) ?? 0) - (before.get(series) ?? 0);
    expect(delta('tierguard_admission_duration_seconds_count{webhook="mutate",kind="Pod"}')).toBe(1);
    expect(delta('tierguard_admission_duration_seconds_count{webhook="validate",kind="NetworkPolicy"}')).toBe(1);
    expect(delta('tierguard_admission_duration_seconds_count{webhook="validate",kind="unknown"}')).toBe(1);
    expect(delta('tierguard_admission_duration_seconds_sum{webhook="mutate",kind="Pod"}')).toBeGreaterThan(0);
  });
});
