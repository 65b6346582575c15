/**
 * TLS hardening of the webhook port, with real handshakes: TLS 1.2 floor, forward-secret AEAD
 * suites only, no plain HTTP, and `--client-ca` requiring the API server's client certificate.
 */
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import tls from 'node:tls';
import forge from 'node-forge';
import { afterEach, describe, expect, it } from 'vitest';
import { parseServeOptions } from '../../src/config/options.js';
import { startServer, type RunningServer } from '../../src/cli/serve.js';
import { createCa, type KeyPair } from '../../src/tls/certs.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { review } from '../helpers/fixtures.js';
import { httpGet } from '../helpers/https.js';
import { testCertificates } from '../helpers/tls.js';

const certs = testCertificates();
const base = { address: '127.0.0.1', port: 0, metricsAddress: '127.0.0.1', metricsPort: 0, tlsCert: certs.certFile, tlsKey: certs.keyFile };
let running: RunningServer | undefined;
afterEach(async () => { await running?.close(); running = undefined; });

/** A client certificate (extended key usage clientAuth) for `commonName`, signed by `ca`. */
function clientCertificate(ca: KeyPair, commonName: string): KeyPair {
  const keys = forge.pki.rsa.generateKeyPair({ bits: 2048 });
  const cert = forge.pki.createCertificate();
  const authority = forge.pki.certificateFromPem(ca.cert);
  cert.publicKey = keys.publicKey;
  cert.serialNumber = `01${randomBytes(8).toString('hex')}`;
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + 86_400_000);
  cert.setSubject([{ name: 'commonName', value: commonName }]);
  cert.setIssuer(authority.subject.attributes);
  cert.setExtensions([{ name: 'basicConstraints', cA: false }, { name: 'keyUsage', digitalSignature: true, keyEncipherment: true }, { name: 'extKeyUsage', clientAuth: true }]);
  cert.sign(forge.pki.privateKeyFromPem(ca.key), forge.md.sha256.create());
  return { cert: forge.pki.certificateToPem(cert), key: forge.pki.privateKeyToPem(keys.privateKey) };
}

type Outcome = { ok: true; protocol: string; cipher: string; status?: number } | { ok: false; error: string };

/** A handshake (and, with `post`, one admission request) with the given client settings. */
function connect(port: number, options: tls.ConnectionOptions & { post?: boolean } = {}): Promise<Outcome> {
  const { post, ...tlsOptions } = options;
  return new Promise((resolve) => {
    const socket = tls.connect({ host: '127.0.0.1', port, ca: certs.caCert, servername: 'localhost', ...tlsOptions }, () => {
      const outcome = { protocol: socket.getProtocol() ?? '', cipher: socket.getCipher().name };
      if (!post) {
        socket.end();
        resolve({ ok: true, ...outcome });
        return;
      }
      const body = JSON.stringify(review('validate-create-pod'));
      socket.write(`POST /validate HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
      let answer = '';
      socket.on('data', (chunk: Buffer) => { answer += chunk.toString('utf8'); });
      socket.on('end', () => resolve({ ok: true, ...outcome, status: Number(/^HTTP\/1\.1 (\d+)/.exec(answer)?.[1] ?? 0) }));
    });
    // A rejected client certificate shows up after the handshake (TLS 1.3) or during it (1.2).
    socket.on('error', (error) => resolve({ ok: false, error: error.message }));
    socket.on('close', () => resolve({ ok: false, error: 'closed' }));
  });
}

describe('the webhook port', () => {
  it('negotiates TLS 1.3, or TLS 1.2 with an ECDHE AEAD suite', async () => {
    running = await startServer(parseServeOptions(base), silentLogger);
    expect(await connect(running.port)).toMatchObject({ ok: true, protocol: 'TLSv1.3' });
    const twelve = await connect(running.port, { maxVersion: 'TLSv1.2' });
    expect(twelve).toMatchObject({ ok: true, protocol: 'TLSv1.2' });
    expect(twelve.ok && twelve.cipher).toMatch(/^ECDHE-RSA-(AES(128|256)-GCM-SHA(256|384)|CHACHA20-POLY1305)$/);
  });

  it.each([
    ['TLS 1.1', { minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' }],
    ['a CBC suite with RSA key exchange', { maxVersion: 'TLSv1.2', ciphers: 'AES128-SHA:AES256-SHA256' }],
    ['a CBC suite with ECDHE', { maxVersion: 'TLSv1.2', ciphers: 'ECDHE-RSA-AES128-SHA:ECDHE-RSA-AES256-SHA384' }],
  ] as const)('refuses a client that offers only %s', async (_what, options) => {
    running = await startServer(parseServeOptions(base), silentLogger);
    const outcome = await connect(running.port, options as tls.ConnectionOptions);
    expect(outcome.ok).toBe(false);
  });

  it('has no plain-HTTP listener: an HTTP request gets no HTTP answer', async () => {
    running = await startServer(parseServeOptions(base), silentLogger);
    const port = running.port;
    const outcome = await new Promise<string>((resolve) => {
      const req = http.request({ host: '127.0.0.1', port, method: 'GET', path: '/healthz', timeout: 20_000 }, (res) => resolve(`HTTP ${res.statusCode}`));
      req.on('error', (error) => resolve(`error: ${error.message}`));
      req.on('timeout', () => { req.destroy(); resolve('timeout'); });
      req.end();
    });
    expect(outcome).toMatch(/^error: /);
  });
});

describe('--client-ca', () => {
  const clientCa = createCa({ notBefore: new Date(Date.now() - 60_000), notAfter: new Date(Date.now() + 86_400_000) });
  const otherCa = createCa({ notBefore: new Date(Date.now() - 60_000), notAfter: new Date(Date.now() + 86_400_000) });
  const apiServer = clientCertificate(clientCa, 'kube-apiserver');
  const impostor = clientCertificate(otherCa, 'kube-apiserver');
  const clientCaFile = path.join(certs.dir, 'client-ca.crt');
  writeFileSync(clientCaFile, clientCa.cert);

  it('answers a client with a certificate the CA signed, and refuses one without, or signed by another CA', async () => {
    running = await startServer(parseServeOptions({ ...base, clientCa: clientCaFile }), silentLogger);
    expect(await connect(running.port, { ...apiServer, post: true })).toMatchObject({ ok: true, status: 200 });
    expect(await connect(running.port, { ...apiServer, post: true, maxVersion: 'TLSv1.2' })).toMatchObject({ ok: true, status: 200 });
    for (const client of [{}, impostor]) {
      for (const maxVersion of ['TLSv1.2', 'TLSv1.3'] as const) {
        const outcome = await connect(running.port, { ...client, post: true, maxVersion });
        expect(outcome.ok && outcome.status).toBeFalsy();
      }
    }
  });

  it('keeps the probes reachable on the metrics port, which the kubelet can call without a certificate', async () => {
    running = await startServer(parseServeOptions({ ...base, clientCa: clientCaFile }), silentLogger);
    expect(await httpGet(running.metricsPort, '/healthz')).toEqual({ status: 200, text: '{"status":"ok"}' });
    expect(await httpGet(running.metricsPort, '/readyz')).toEqual({ status: 200, text: '{"status":"ready"}' });
  });

  it('refuses to start with a client CA file that holds no certificate', async () => {
    const bad = path.join(certs.dir, 'not-a-ca.crt');
    writeFileSync(bad, 'hello\n');
    await expect(startServer(parseServeOptions({ ...base, clientCa: bad }), silentLogger)).rejects.toThrow(`cannot use --client-ca ${bad}: no PEM certificate in it`);
  });
});
