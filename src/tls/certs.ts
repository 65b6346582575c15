/**
 * Development and self-managed certificates with node-forge: a CA and a serving certificate
 * signed by it, with the webhook Service's DNS names and any extra names and addresses as SANs.
 */
import { randomBytes, X509Certificate } from 'node:crypto';
import { createRequire } from 'node:module';
import type * as Forge from 'node-forge';

/**
 * node-forge, loaded when a certificate is first made, so that a server given its certificate
 * (`--tls-cert`, or cert-manager's Secret) never loads it: importing `serve` and `serve-tls` went
 * from about 430 to 400 ms.
 */
let loadedForge: typeof Forge | undefined;
const forge = (): typeof Forge => (loadedForge ??= createRequire(import.meta.url)('node-forge') as typeof Forge);

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
  const now = options.now ?? new Date();
  const notAfter = new Date(now.getTime() + options.days * 86_400_000);
  const ca = createCa({ notBefore: now, notAfter, ...(options.keyBits ? { keyBits: options.keyBits } : {}) });
  const serving = issueServingCertificate({ ca, dnsNames: options.dnsNames, ipAddresses: options.ipAddresses ?? [], notBefore: now, notAfter, ...(options.keyBits ? { keyBits: options.keyBits } : {}) });
  return { caCert: ca.cert, caKey: ca.key, cert: serving.cert, key: serving.key, notAfter };
}

/** A PEM certificate and its PEM private key. */
export interface KeyPair {
  readonly cert: string;
  readonly key: string;
}

export interface ValidityOptions {
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly keyBits?: number;
}

const CA_NAME = [{ name: 'commonName', value: 'tierguard-ca' }, { name: 'organizationName', value: 'tierguard' }];

/** A self-signed CA that signs serving certificates (and nothing else: path length 0). */
export function createCa(options: ValidityOptions): KeyPair {
  const { pki, md } = forge();
  const keys = pki.rsa.generateKeyPair({ bits: options.keyBits ?? 2048 });
  const ca = newCertificate(keys.publicKey, options.notBefore, options.notAfter);
  // Each CA gets its own subject, so a bundle holding the old and the new CA during a rotation
  // never has two certificates with the same name (verifiers pick the issuer by subject).
  const name = [...CA_NAME, { name: 'serialNumber', value: ca.serialNumber }];
  ca.setSubject(name);
  ca.setIssuer(name);
  ca.setExtensions([
    { name: 'basicConstraints', cA: true, pathLenConstraint: 0, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  ca.sign(keys.privateKey, md.sha256.create());
  return { cert: lf(pki.certificateToPem(ca)), key: lf(pki.privateKeyToPem(keys.privateKey)) };
}

export interface ServingOptions extends ValidityOptions {
  /** The signing CA. */
  readonly ca: KeyPair;
  /** DNS names; the first is the common name. */
  readonly dnsNames: readonly string[];
  readonly ipAddresses: readonly string[];
}

/** A serving certificate for `dnsNames` and `ipAddresses`, signed by `ca`, never outliving it. */
export function issueServingCertificate(options: ServingOptions): KeyPair {
  if (options.dnsNames.length === 0 && options.ipAddresses.length === 0) throw new Error('a certificate needs at least one DNS name or IP address');
  const { pki, md } = forge();
  const ca = pki.certificateFromPem(options.ca.cert);
  const caKey = pki.privateKeyFromPem(options.ca.key);
  const notAfter = new Date(Math.min(options.notAfter.getTime(), ca.validity.notAfter.getTime()));
  const keys = pki.rsa.generateKeyPair({ bits: options.keyBits ?? 2048 });
  const cert = newCertificate(keys.publicKey, options.notBefore, notAfter);
  const commonName = options.dnsNames[0] ?? options.ipAddresses[0] ?? 'tierguard';
  cert.setSubject([{ name: 'commonName', value: commonName }]);
  cert.setIssuer(ca.subject.attributes);
  const altNames = [
    ...options.dnsNames.map((value) => ({ type: 2, value })),
    ...options.ipAddresses.map((ip) => ({ type: 7, ip })),
  ];
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    { name: 'subjectAltName', altNames },
    { name: 'authorityKeyIdentifier', keyIdentifier: ca.generateSubjectKeyIdentifier().getBytes() },
  ]);
  cert.sign(caKey, md.sha256.create());
  return { cert: lf(pki.certificateToPem(cert)), key: lf(pki.privateKeyToPem(keys.privateKey)) };
}

/** node-forge writes PEM with CRLF line ends; files and Secrets read better with LF. */
function lf(pem: string): string {
  return pem.replace(/\r\n/g, '\n');
}

function newCertificate(publicKey: Forge.pki.PublicKey, notBefore: Date, notAfter: Date): Forge.pki.Certificate {
  const cert = forge().pki.createCertificate();
  cert.publicKey = publicKey;
  // A positive 128-bit serial: the leading 0x01 keeps the DER integer positive.
  cert.serialNumber = `01${randomBytes(15).toString('hex')}`;
  cert.validity.notBefore = new Date(notBefore.getTime() - backdateMs(notAfter.getTime() - notBefore.getTime()));
  cert.validity.notAfter = notAfter;
  return cert;
}

/** The most a certificate's notBefore is set back (`backdateMs`). */
const MAX_BACKDATE_MS = 60_000;

/**
 * How far a certificate's notBefore is set back against clock skew between nodes: a minute, or a
 * tenth of a short lifetime, so the renewal point (a fraction of the lifetime) stays where it is
 * meant to be.
 */
function backdateMs(lifetimeMs: number): number {
  return Math.min(MAX_BACKDATE_MS, lifetimeMs / 10);
}

/**
 * When a certificate made here was made, in ms (to the second, as X.509 keeps times): its notBefore
 * plus `backdateMs`. Its validity spans lifetime + backdate, which is 1.1 × lifetime while the
 * backdate is a tenth of it, so the backdate is min(a minute, an eleventh of the span).
 */
export function madeAt(certificate: X509Certificate): number {
  const from = new Date(certificate.validFrom).getTime();
  const span = new Date(certificate.validTo).getTime() - from;
  return from + Math.min(MAX_BACKDATE_MS, span / 11);
}

/** The notAfter of the first certificate in a PEM bundle (RSA or ECDSA, e.g. from cert-manager). */
export function certificateExpiry(pem: string): Date {
  return new Date(new X509Certificate(pem).validTo);
}
