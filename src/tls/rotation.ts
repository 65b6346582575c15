/**
 * What self-managed certificates should look like next, given what is stored and the time: a
 * pure plan, so every rotation step is tested without a cluster or a clock.
 *
 * The stored state is a CA bundle (the newest CA first, then older CAs still trusted), their keys
 * and a serving pair. The steps, each taken by whichever replica sees it due:
 *
 * 1. Nothing usable stored (absent, unreadable, mismatched keys): a new CA and serving pair.
 * 2. The newest CA has less than `renewFraction` of its life left: a new CA goes to the front of
 *    the bundle; the old one stays trusted and the serving certificate it signed stays in use.
 * 3. The serving certificate is due (same rule), lacks a required name, or was signed by an older
 *    CA while the newest is in use: a new serving pair, signed by the newest CA once it is in use
 *    and by the one before it until then, so the API server always trusts a CA before any replica
 *    presents a certificate signed by it. The newest CA is in use once the webhook configurations
 *    carry it and it has been in the bundle for `propagationMs`: the API server loads a
 *    configuration's caBundle from its own watch, a moment after the write that reads back as
 *    published, and a replica may run its next check at once (a watch event of its own write).
 * 4. Expired CAs leave the bundle.
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import ipaddr from 'ipaddr.js';
import { createCa, issueServingCertificate, madeAt, type KeyPair } from './certs.js';

export interface StoredCertificates {
  /** PEM CA certificates the webhook configurations trust, newest first. */
  readonly caBundle: string;
  /** PEM keys of the CAs in the bundle, in the same order. */
  readonly caKey: string;
  readonly cert: string;
  readonly key: string;
}

export interface RotationPolicy {
  readonly caValidityMs: number;
  readonly servingValidityMs: number;
  /** Renew a certificate once less than this fraction of its lifetime is left (cert-manager: 1/3). */
  readonly renewFraction: number;
  readonly dnsNames: readonly string[];
  readonly ipAddresses: readonly string[];
  readonly keyBits?: number;
}

export interface CertificatePlan {
  readonly next: StoredCertificates;
  /** Why `next` differs from what is stored; empty when nothing changes. */
  readonly changes: readonly string[];
}

export interface PlanInput {
  readonly stored: StoredCertificates | undefined;
  readonly policy: RotationPolicy;
  readonly now: Date;
  /** Whether every webhook configuration already trusts the stored signing CA. */
  readonly published: boolean;
}

export function planCertificates(input: PlanInput): CertificatePlan {
  const { policy, now } = input;
  const problem = input.stored ? unusable(input.stored, now) : 'no certificates are stored yet';
  if (problem !== undefined || !input.stored) return { next: fresh(policy, now), changes: [`${problem}: created a new CA and serving certificate`] };
  const changes: string[] = [];
  const keys = splitKeys(input.stored.caKey);
  let cas = splitPem(input.stored.caBundle).map((cert, index) => ({ cert, key: keys[index]!, x509: new X509Certificate(cert) }));
  let published = input.published;
  if (due(cas[0]!.x509, policy.renewFraction, now)) {
    const ca = createCa({ notBefore: now, notAfter: after(now, policy.caValidityMs), ...keyBits(policy) });
    cas = [{ ...ca, x509: new X509Certificate(ca.cert) }, ...cas];
    published = false;
    changes.push(`the CA expires ${cas[1]!.x509.validTo}: added a new CA to the bundle`);
  }
  // Until the newest CA is in use, the one before it keeps signing.
  const inUse = cas.length === 1 || (published && now.getTime() - madeAt(cas[0]!.x509) >= propagationMs(policy));
  const signer = inUse ? cas[0]! : cas[1]!;
  let serving: KeyPair = { cert: input.stored.cert, key: input.stored.key };
  const reason = servingReason(serving, cas[0]!.x509, inUse, policy, now);
  if (reason) {
    serving = issueServingCertificate({ ca: signer, dnsNames: policy.dnsNames, ipAddresses: policy.ipAddresses, notBefore: now, notAfter: after(now, policy.servingValidityMs), ...keyBits(policy) });
    changes.push(`${reason}: issued a new serving certificate`);
  }
  const kept = cas.filter((ca, index) => index === 0 || new Date(ca.x509.validTo) > now);
  if (kept.length < cas.length) changes.push(`dropped ${cas.length - kept.length} expired CA${cas.length - kept.length === 1 ? '' : 's'} from the bundle`);
  return { next: { caBundle: kept.map((ca) => ca.cert).join(''), caKey: kept.map((ca) => ca.key).join(''), ...serving }, changes };
}

/** The PEM certificates of a bundle, each ending in a newline. */
export function splitPem(bundle: string): string[] {
  return [...bundle.matchAll(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g)].map((match) => `${match[0]}\n`);
}

/** The PEM private keys of a bundle of keys, each ending in a newline. */
function splitKeys(bundle: string): string[] {
  return [...bundle.matchAll(/-----BEGIN ([A-Z ]*)PRIVATE KEY-----[\s\S]+?-----END \1PRIVATE KEY-----/g)].map((match) => `${match[0]}\n`);
}

/** Why the stored state cannot be used as it is, or undefined when it can. */
function unusable(stored: StoredCertificates, now: Date): string | undefined {
  try {
    const cas = splitPem(stored.caBundle).map((pem) => new X509Certificate(pem));
    const signing = cas[0];
    if (!signing) return 'the stored CA bundle holds no certificate';
    const keys = splitKeys(stored.caKey);
    if (keys.length !== cas.length || cas.some((ca, index) => !ca.checkPrivateKey(createPrivateKey(keys[index]!)))) return 'the stored CA keys do not match the CA bundle';
    if (new Date(signing.validTo) <= now) return 'the stored CA has expired';
    const serving = new X509Certificate(stored.cert);
    if (!serving.checkPrivateKey(createPrivateKey(stored.key))) return 'the stored serving key does not match its certificate';
    if (!cas.some((ca) => serving.checkIssued(ca) && serving.verify(ca.publicKey) && new Date(ca.validTo) > now)) return 'the stored serving certificate was not signed by a trusted CA';
    return undefined;
  } catch (error) {
    return `the stored certificates cannot be read (${(error as Error).message})`;
  }
}

/**
 * How long a new CA stays in the bundle, published, before it signs: a quarter of the time the
 * old CA has left when its successor is added, at most a minute (a few seconds for the
 * short-lived certificates of tests).
 */
export function propagationMs(policy: RotationPolicy): number {
  return Math.min(60_000, (policy.caValidityMs * policy.renewFraction) / 4);
}

function servingReason(serving: KeyPair, signing: X509Certificate, inUse: boolean, policy: RotationPolicy, now: Date): string | undefined {
  const x509 = new X509Certificate(serving.cert);
  if (due(x509, policy.renewFraction, now)) return `the serving certificate expires ${x509.validTo}`;
  const missing = missingNames(x509, policy);
  if (missing.length > 0) return `the serving certificate lacks ${missing.join(', ')}`;
  if (inUse && !(x509.checkIssued(signing) && x509.verify(signing.publicKey))) return 'the webhook configurations trust the new CA';
  return undefined;
}

function missingNames(x509: X509Certificate, policy: RotationPolicy): string[] {
  const names = new Set((x509.subjectAltName ?? '').split(', ').map(normalName));
  return [...policy.dnsNames.map((name) => `DNS:${name}`), ...policy.ipAddresses.map((ip) => `IP Address:${ip}`)].filter((name) => !names.has(normalName(name)));
}

/** `IP Address:0:0:0:0:0:0:0:1` and `IP Address:::1` are the same name. */
function normalName(name: string): string {
  const prefix = 'IP Address:';
  if (!name.startsWith(prefix) || !ipaddr.isValid(name.slice(prefix.length))) return name;
  return prefix + ipaddr.parse(name.slice(prefix.length)).toNormalizedString();
}

/** Less than `fraction` of the certificate's lifetime is left. */
function due(x509: X509Certificate, fraction: number, now: Date): boolean {
  const from = new Date(x509.validFrom).getTime();
  const to = new Date(x509.validTo).getTime();
  return to - now.getTime() < (to - from) * fraction;
}

function fresh(policy: RotationPolicy, now: Date): StoredCertificates {
  const ca = createCa({ notBefore: now, notAfter: after(now, policy.caValidityMs), ...keyBits(policy) });
  const serving = issueServingCertificate({ ca, dnsNames: policy.dnsNames, ipAddresses: policy.ipAddresses, notBefore: now, notAfter: after(now, policy.servingValidityMs), ...keyBits(policy) });
  return { caBundle: ca.cert, caKey: ca.key, ...serving };
}

function after(now: Date, ms: number): Date {
  return new Date(now.getTime() + ms);
}

function keyBits(policy: RotationPolicy): { keyBits?: number } {
  return policy.keyBits ? { keyBits: policy.keyBits } : {};
}
