/**
 * The bench's bare webhook (bench/bare-server.mjs), the floor tierguard is compared with: over a
 * real TLS handshake it allows every review and echoes its uid; given a patches file, it answers a
 * mutating call of those kinds with the patch, as the API-latency section's "bare webhook with
 * tierguard's patch" needs, and nothing else changes.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateCertificates } from '../../src/tls/certs.js';
import { REPO_DIR, decodePatch, review } from '../helpers/fixtures.js';
import { request } from '../helpers/https.js';
import { freePort, isListening, spawnManaged, waitFor, type ManagedProcess } from '../helpers/managed-process.js';

const POD_PATCH = [{ op: 'add', path: '/metadata/labels/env', value: 'prod' }];

describe('the bench bare webhook', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tierguard-bare-'));
  const certs = generateCertificates({ dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'], days: 1 });
  const servers: Record<'plain' | 'patching', { port: number; child: ManagedProcess }> = {} as never;

  beforeAll(async () => {
    writeFileSync(path.join(dir, 'tls.crt'), certs.cert);
    writeFileSync(path.join(dir, 'tls.key'), certs.key, { mode: 0o600 });
    writeFileSync(path.join(dir, 'patches.json'), JSON.stringify({ Pod: Buffer.from(JSON.stringify(POD_PATCH)).toString('base64') }));
    for (const name of ['plain', 'patching'] as const) {
      const port = await freePort();
      const child = spawnManaged({
        name: `bare-${name}`, command: process.execPath, logFile: path.join(dir, `${name}.log`),
        args: [path.join(REPO_DIR, 'bench', 'bare-server.mjs'), String(port), path.join(dir, 'tls.crt'), path.join(dir, 'tls.key'), ...(name === 'patching' ? [path.join(dir, 'patches.json')] : [])],
      });
      servers[name] = { port, child };
      await waitFor(() => isListening(port), { what: `the ${name} bare webhook to listen`, timeoutMs: 30_000, abort: () => (child.alive() ? undefined : new Error(child.tail())) });
    }
  });

  afterAll(async () => {
    await Promise.all(Object.values(servers).map(({ child }) => child.stop()));
    rmSync(dir, { recursive: true, force: true });
  });

  const post = (server: 'plain' | 'patching', webhook: string, fixture: string) => {
    const body = review(fixture);
    return request({ port: servers[server].port, ca: certs.caCert, path: `/${webhook}?timeout=10s`, body: JSON.stringify(body) }).then((answer) => ({ uid: body.request.uid, answer }));
  };

  it('allows a review and echoes its uid, with no patch when it was given none', async () => {
    const { uid, answer } = await post('plain', 'mutate', 'mutate-create-pod');
    expect(answer.status).toBe(200);
    expect(answer.json()).toEqual({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid, allowed: true } });
  });

  it('answers a mutating call of a kind in its patches file with that patch', async () => {
    const { uid, answer } = await post('patching', 'mutate', 'mutate-create-pod');
    const response = answer.json().response;
    expect(response).toMatchObject({ uid, allowed: true, patchType: 'JSONPatch' });
    expect(decodePatch(response)).toEqual(POD_PATCH);
  });

  it('patches neither a validating call nor a kind it has no patch for', async () => {
    for (const [webhook, fixture] of [['validate', 'validate-create-pod'], ['mutate', 'mutate-create-networkpolicy']] as const) {
      const { uid, answer } = await post('patching', webhook, fixture);
      expect(answer.json().response, `${webhook} ${fixture}`).toEqual({ uid, allowed: true });
    }
  });
});
