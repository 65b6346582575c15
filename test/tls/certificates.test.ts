/** Certificates: generation, the TLS floor, reload without restart, and the generated default. */
import { X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import { parseServeOptions } from '../../src/config/options.js';
import { startServer, type RunningServer } from '../../src/cli/serve.js';
import { createCa, generateCertificates, madeAt, serviceDnsNames } from '../../src/tls/certs.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { request } from '../helpers/https.js';
import { testCertificates } from '../helpers/tls.js';
import { waitFor } from '../helpers/wait-for.js';

let running: RunningServer | undefined;
afterEach(async () => { await running?.close(); running = undefined; });

const base = { address: '127.0.0.1', port: 0, metricsAddress: '127.0.0.1', metricsPort: 0 };

/** The certificate the server presents in a real handshake. */
function peerCertificate(port: number, ca: string, maxVersion?: tls.SecureVersion): Promise<tls.PeerCertificate> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, ca, servername: 'localhost', ...(maxVersion ? { maxVersion } : {}) }, () => {
      const cert = socket.getPeerCertificate();
      socket.end();
      resolve(cert);
    });
    socket.on('error', reject);
  });
}

describe('madeAt', () => {
  // The rotation plan waits from this moment before a new CA signs: it must undo the backdating.
  it.each([
    ['a short lifetime (backdated a tenth of it)', 36_000],
    ['a long one (backdated a minute)', 730 * 86_400_000],
  ])('gives the moment a certificate was made for %s, to the second', (_what, lifetimeMs) => {
    const made = new Date('2026-03-01T12:00:00Z');
    const ca = new X509Certificate(createCa({ notBefore: made, notAfter: new Date(made.getTime() + lifetimeMs), keyBits: 1024 }).cert);
    expect(new Date(ca.validFrom).getTime()).toBeLessThan(made.getTime());
    expect(Math.abs(madeAt(ca) - made.getTime())).toBeLessThanOrEqual(1000);
  });
});

describe('generateCertificates', () => {
  it('signs a serving certificate with the service DNS names and addresses as SANs', () => {
    const bundle = generateCertificates({ dnsNames: serviceDnsNames('tierguard', 'security'), ipAddresses: ['10.0.0.7', '::1'], days: 90 });
    const ca = new X509Certificate(bundle.caCert);
    const cert = new X509Certificate(bundle.cert);
    expect(ca.ca).toBe(true);
    expect(cert.ca).toBe(false);
    expect(cert.verify(ca.publicKey)).toBe(true);
    expect(cert.checkIssued(ca)).toBe(true);
    expect(cert.subjectAltName).toBe('DNS:tierguard, DNS:tierguard.security, DNS:tierguard.security.svc, DNS:tierguard.security.svc.cluster.local, IP Address:10.0.0.7, IP Address:0:0:0:0:0:0:0:1');
    expect(cert.checkHost('tierguard.security.svc')).toBe('tierguard.security.svc');
    const days = (Date.parse(cert.validTo) - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(89);
    expect(days).toBeLessThanOrEqual(90);
  });
});

describe('serve', () => {
  it('refuses TLS below 1.2', async () => {
    const certs = testCertificates();
    running = await startServer(parseServeOptions({ ...base, tlsCert: certs.certFile, tlsKey: certs.keyFile }), silentLogger);
    await expect(peerCertificate(running.port, certs.caCert, 'TLSv1.1')).rejects.toThrow();
    expect((await peerCertificate(running.port, certs.caCert, 'TLSv1.2')).subject.CN).toBe('localhost');
  });

  it('reloads a rotated certificate without restart, and keeps the old one when the new pair is broken', async () => {
    const certs = testCertificates();
    running = await startServer(parseServeOptions({ ...base, tlsCert: certs.certFile, tlsKey: certs.keyFile, certReloadIntervalMs: 100 }), silentLogger);
    const first = await peerCertificate(running.port, certs.caCert);

    // A half-written pair (new certificate, old key) must not be applied.
    const next = generateCertificates({ dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'], days: 3 });
    writeFileSync(certs.certFile, next.cert);
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect((await peerCertificate(running.port, certs.caCert)).fingerprint256).toBe(first.fingerprint256);

    writeFileSync(certs.keyFile, next.key);
    const server = running;
    const rotated = await waitFor(async () => {
      const presented = await peerCertificate(server.port, next.caCert).catch(() => first);
      return presented.fingerprint256 === first.fingerprint256 ? undefined : presented;
    }, { what: 'the rotated certificate', intervalMs: 100 });
    expect(rotated.fingerprint256).toBe(new X509Certificate(next.cert).fingerprint256);
    expect((await running.metrics.certificateExpiry.get()).values[0]?.value).toBe(Math.floor(next.notAfter.getTime() / 1000));
  });

  it('without a certificate, generates one in memory and writes its CA bundle where it says', async () => {
    const certs = testCertificates();
    const caOut = path.join(certs.dir, 'generated', 'ca.crt');
    running = await startServer(parseServeOptions({ ...base, caOut }), silentLogger);
    expect(running.caPath).toBe(caOut);
    const ca = readFileSync(caOut, 'utf8');
    const answer = await request({ port: running.port, ca, method: 'GET', path: '/healthz' });
    expect(answer.json()).toEqual({ status: 'ok' });
  });
});

describe('certificateExpiry', () => {
  it('reads ECDSA certificates too (cert-manager issues them)', async () => {
    // test/fixtures/tls/ecdsa.crt: a public P-256 certificate made with openssl (no key kept).
    const { certificateExpiry } = await import('../../src/tls/certs.js');
    const pem = readFileSync(path.join(path.dirname(new URL(import.meta.url).pathname), '..', 'fixtures', 'tls', 'ecdsa.crt'), 'utf8');
    expect(certificateExpiry(pem).toISOString()).toBe(new Date('Nov 21 21:57:54 2036 GMT').toISOString());
  });
});
