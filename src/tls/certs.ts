/**
 * Development and self-managed certificates with node-forge: a CA and a serving certificate
 * signed by it, with the webhook Service's DNS names and any extra names and addresses as SANs.
 */
import { randomBytes, X509Certificate } from 'node:crypto';
import forge from 'node-forge';

export interface CertificateBundle {
  /** PEM of the CA certificate: the `caBundle` of the webhook configurations. */
  readonly caCert: string;
  readonly caKey: string;
  /** PEM of the serving certificate. */
  readonly cert: string;
  readonly key: string;
  readonly notAfter: Date;
}

export interface CertificateOptions {
  /** DNS names for the serving certificate; the first is its common name. */
  readonly dnsNames: readonly string[];
  readonly ipAddresses?: readonly string[];
  /** Validity in days, for both the CA and the serving certificate. */
  readonly days: number;
  /** Current time; injected for tests. */
  readonly now?: Date;
  readonly keyBits?: number;
}

/** The DNS names a Kubernetes Service is reached by: `NAME`, `NAME.NS`, `NAME.NS.svc`, `NAME.NS.svc.cluster.local`. */
export function serviceDnsNames(service: string, namespace: string): string[] {
  return [service, `${service}.${namespace}`, `${service}.${namespace}.svc`, `${service}.${namespace}.svc.cluster.local`];
}

export function generateCertificates(options: CertificateOptions): CertificateBundle {
  if (options.dnsNames.length === 0 && !options.ipAddresses?.length) throw new Error('a certificate needs at least one DNS name or IP address');
  const now = options.now ?? new Date();
  const notAfter = new Date(now.getTime() + options.days * 86_400_000);
  const bits = options.keyBits ?? 2048;
  const caKeys = forge.pki.rsa.generateKeyPair({ bits });
  const caName = [{ name: 'commonName', value: 'tierguard-ca' }, { name: 'organizationName', value: 'tierguard' }];
  const ca = newCertificate(caKeys.publicKey, now, notAfter);
  ca.setSubject(caName);
  ca.setIssuer(caName);
  ca.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  ca.sign(caKeys.privateKey, forge.md.sha256.create());

  const keys = forge.pki.rsa.generateKeyPair({ bits });
  const cert = newCertificate(keys.publicKey, now, notAfter);
  const commonName = options.dnsNames[0] ?? options.ipAddresses?.[0] ?? 'tierguard';
  cert.setSubject([{ name: 'commonName', value: commonName }]);
  cert.setIssuer(caName);
  const altNames = [
    ...options.dnsNames.map((value) => ({ type: 2, value })),
    ...(options.ipAddresses ?? []).map((ip) => ({ type: 7, ip })),
  ];
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    { name: 'subjectAltName', altNames },
    { name: 'authorityKeyIdentifier', keyIdentifier: ca.generateSubjectKeyIdentifier().getBytes() },
  ]);
  cert.sign(caKeys.privateKey, forge.md.sha256.create());

  return {
    caCert: forge.pki.certificateToPem(ca),
    caKey: forge.pki.privateKeyToPem(caKeys.privateKey),
    cert: forge.pki.certificateToPem(cert),
    key: forge.pki.privateKeyToPem(keys.privateKey),
    notAfter,
  };
}

function newCertificate(publicKey: forge.pki.PublicKey, notBefore: Date, notAfter: Date): forge.pki.Certificate {
  const cert = forge.pki.createCertificate();
  cert.publicKey = publicKey;
  // A positive 128-bit serial: the leading 0x01 keeps the DER integer positive.
  cert.serialNumber = `01${randomBytes(15).toString('hex')}`;
  cert.validity.notBefore = new Date(notBefore.getTime() - 60_000);
  cert.validity.notAfter = notAfter;
  return cert;
}

/** The notAfter of the first certificate in a PEM bundle (RSA or ECDSA, e.g. from cert-manager). */
export function certificateExpiry(pem: string): Date {
  return new Date(new X509Certificate(pem).validTo);
}
