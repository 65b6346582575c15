// Fallback certificate generator for the benchmark, used ONLY when
// `node dist/cli/main.js certs ...` fails. Writes ca.crt, tls.crt, tls.key
// (PEM) into outDir: a self-signed CA and a server leaf for
// DNS:localhost + IP:127.0.0.1, RSA-2048 / SHA-256, valid 2 days.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import forge from 'node-forge';

function rsaKeyPair() {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const priv = forge.pki.privateKeyFromPem(privateKey.export({ type: 'pkcs1', format: 'pem' }));
  const pub = forge.pki.setRsaPublicKey(priv.n, priv.e);
  return { priv, pub };
}

function baseCert(pub) {
  const cert = forge.pki.createCertificate();
  cert.publicKey = pub;
  cert.serialNumber = '01' + randomBytes(15).toString('hex');
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + 2 * 24 * 3600_000);
  return cert;
}

export function generateFallbackCerts(outDir, { dns = ['localhost'], ips = ['127.0.0.1'] } = {}) {
  const ca = rsaKeyPair();
  const caCert = baseCert(ca.pub);
  const caSubject = [{ name: 'commonName', value: 'tierguard-bench-ca' }];
  caCert.setSubject(caSubject);
  caCert.setIssuer(caSubject);
  caCert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  caCert.sign(ca.priv, forge.md.sha256.create());

  const leaf = rsaKeyPair();
  const leafCert = baseCert(leaf.pub);
  leafCert.setSubject([{ name: 'commonName', value: dns[0] ?? ips[0] }]);
  leafCert.setIssuer(caSubject);
  leafCert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    {
      name: 'subjectAltName',
      altNames: [...dns.map((value) => ({ type: 2, value })), ...ips.map((ip) => ({ type: 7, ip }))],
    },
  ]);
  leafCert.sign(ca.priv, forge.md.sha256.create());

  writeFileSync(path.join(outDir, 'ca.crt'), forge.pki.certificateToPem(caCert));
  writeFileSync(path.join(outDir, 'tls.crt'), forge.pki.certificateToPem(leafCert));
  writeFileSync(path.join(outDir, 'tls.key'), forge.pki.privateKeyToPem(leaf.priv), { mode: 0o600 });
}
