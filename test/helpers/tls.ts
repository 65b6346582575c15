import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { generateCertificates, type CertificateBundle } from '../../src/tls/certs.js';

export interface TestCertificates extends CertificateBundle {
  readonly dir: string;
  readonly certFile: string;
  readonly keyFile: string;
  readonly caFile: string;
}

/** A CA and a serving certificate for 127.0.0.1/localhost, written to a fresh temporary directory. */
export function testCertificates(): TestCertificates {
  const bundle = generateCertificates({ dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'], days: 2 });
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tierguard-test-'));
  const certFile = path.join(dir, 'tls.crt');
  const keyFile = path.join(dir, 'tls.key');
  const caFile = path.join(dir, 'ca.crt');
  writeFileSync(certFile, bundle.cert);
  writeFileSync(keyFile, bundle.key);
  writeFileSync(caFile, bundle.caCert);
  return { ...bundle, dir, certFile, keyFile, caFile };
}
