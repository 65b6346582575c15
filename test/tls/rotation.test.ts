/** The rotation plan of self-managed certificates, step by step on a fake clock. */
import { X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { planCertificates, propagationMs, splitPem, type RotationPolicy, type StoredCertificates } from '../../src/tls/rotation.js';

const DAY = 86_400_000;
const policy: RotationPolicy = {
  caValidityMs: 310 * DAY,
  servingValidityMs: 30 * DAY,
  renewFraction: 1 / 3,
  dnsNames: ['tierguard', 'tierguard.security.svc'],
  ipAddresses: ['::1'],
};
const start = new Date('2026-01-01T00:00:00Z');
const at = (days: number) => new Date(start.getTime() + days * DAY);

function plan(stored: StoredCertificates | undefined, days: number, published = true) {
  return planCertificates({ stored, policy, now: at(days), published });
}

/** Whether `cert` was signed by `ca` (both PEM). */
function signedBy(cert: string, ca: string): boolean {
  const issued = new X509Certificate(cert);
  const authority = new X509Certificate(ca);
  return issued.checkIssued(authority) && issued.verify(authority.publicKey);
}

describe('planCertificates', () => {
  const first = plan(undefined, 0);

  it('creates a CA and a serving certificate it signed, with every name, when nothing is stored', () => {
    expect(first.changes).toEqual(['no certificates are stored yet: created a new CA and serving certificate']);
    const cas = splitPem(first.next.caBundle);
    expect(cas).toHaveLength(1);
    expect(signedBy(first.next.cert, cas[0]!)).toBe(true);
    expect(new X509Certificate(first.next.cert).subjectAltName).toBe('DNS:tierguard, DNS:tierguard.security.svc, IP Address:0:0:0:0:0:0:0:1');
    expect(new Date(new X509Certificate(first.next.cert).validTo).getTime()).toBe(at(30).getTime());
  });

  it('changes nothing while the certificates are young (the IPv6 name matches however it is written)', () => {
    expect(plan(first.next, 1).changes).toEqual([]);
    expect(plan(first.next, 19).changes).toEqual([]);
  });

  it('renews the serving certificate once less than a third of its life is left, from the same CA', () => {
    const renewed = plan(first.next, 21);
    expect(renewed.changes).toEqual([expect.stringMatching(/^the serving certificate expires .*: issued a new serving certificate$/)]);
    expect(renewed.next.caBundle).toBe(first.next.caBundle);
    expect(renewed.next.cert).not.toBe(first.next.cert);
    expect(signedBy(renewed.next.cert, first.next.caBundle)).toBe(true);
    expect(plan(renewed.next, 22).changes).toEqual([]);
  });

  it('rotates the CA in steps: new CA added beside the old, serving certificate switched once published, old CA dropped at expiry', () => {
    // The serving certificate is renewed every 20 days; on day 210 only the CA is due (a third of 310 days left).
    let stored = first.next;
    for (let day = 20; day <= 200; day += 20) stored = plan(stored, day).next;
    expect(splitPem(stored.caBundle)).toEqual([splitPem(first.next.caBundle)[0]]);
    const oldCa = splitPem(stored.caBundle)[0]!;

    const added = plan(stored, 210);
    expect(added.changes).toEqual([expect.stringMatching(/^the CA expires .*: added a new CA to the bundle$/)]);
    const [newCa, kept] = splitPem(added.next.caBundle);
    expect(kept).toBe(oldCa);
    expect(newCa).not.toBe(oldCa);
    expect(added.next.cert).toBe(stored.cert);
    expect(signedBy(added.next.cert, oldCa)).toBe(true);

    // Until the webhook configurations trust the new CA, the old serving certificate stays.
    expect(plan(added.next, 210.1, false).changes).toEqual([]);
    const switched = plan(added.next, 210.2, true);
    expect(switched.changes).toEqual(['the webhook configurations trust the new CA: issued a new serving certificate']);
    expect(signedBy(switched.next.cert, newCa!)).toBe(true);
    expect(splitPem(switched.next.caBundle)).toEqual([newCa, oldCa]);

    // The old CA stays trusted until it expires (day 310), then leaves the bundle.
    let later = switched.next;
    for (let day = 230; day < 310; day += 20) later = plan(later, day).next;
    expect(splitPem(later.caBundle)).toHaveLength(2);
    const dropped = plan(later, 311);
    expect(dropped.changes).toContain('dropped 1 expired CA from the bundle');
    expect(splitPem(dropped.next.caBundle)).toEqual([newCa]);
  });

  it('has the old CA sign when the serving certificate falls due in the same step that adds a new CA', () => {
    // Day 200: CA (310 days) and serving certificate (issued day 180) are both due.
    let stored = first.next;
    for (let day = 20; day <= 180; day += 20) stored = plan(stored, day).next;
    const oldCa = splitPem(stored.caBundle)[0]!;
    const both = plan(stored, 207);
    expect(both.changes).toEqual([expect.stringMatching(/added a new CA to the bundle$/), expect.stringMatching(/issued a new serving certificate$/)]);
    const [newCa] = splitPem(both.next.caBundle);
    expect(signedBy(both.next.cert, oldCa)).toBe(true);
    // Published a moment later: now the new CA signs.
    const switched = plan(both.next, 207.01, true);
    expect(switched.changes).toEqual(['the webhook configurations trust the new CA: issued a new serving certificate']);
    expect(signedBy(switched.next.cert, newCa!)).toBe(true);
  });

  it('keeps the old CA signing for a minute after the new one is published: the API server loads the bundle from its watch', () => {
    let stored = first.next;
    for (let day = 20; day <= 200; day += 20) stored = plan(stored, day).next;
    const oldCa = splitPem(stored.caBundle)[0]!;
    const added = plan(stored, 210).next;
    const [newCa] = splitPem(added.caBundle);
    expect(propagationMs(policy)).toBe(60_000);
    const seconds = (s: number) => new Date(at(210).getTime() + s * 1000);
    // Published at once (a replica's next check can follow its own write): not yet in use.
    for (const s of [1, 30, 58]) {
      const early = planCertificates({ stored: added, policy, now: seconds(s), published: true });
      expect(early.changes).toEqual([]);
      expect(signedBy(early.next.cert, oldCa)).toBe(true);
    }
    const inUse = planCertificates({ stored: added, policy, now: seconds(62), published: true });
    expect(inUse.changes).toEqual(['the webhook configurations trust the new CA: issued a new serving certificate']);
    expect(signedBy(inUse.next.cert, newCa!)).toBe(true);
  });

  it('waits a quarter of the renewal window when that is under a minute (short-lived test certificates)', () => {
    expect(propagationMs({ ...policy, caValidityMs: 36_000 })).toBe(3_000);
  });

  it('never issues a serving certificate that outlives its CA', () => {
    const short = planCertificates({ stored: undefined, policy: { ...policy, caValidityMs: 10 * DAY }, now: start, published: true });
    expect(new X509Certificate(short.next.cert).validTo).toBe(new X509Certificate(short.next.caBundle).validTo);
  });

  it('reissues the serving certificate when a required name is missing (the Service was renamed)', () => {
    const renamed = planCertificates({ stored: first.next, policy: { ...policy, dnsNames: ['guard', 'guard.security.svc'] }, now: at(1), published: true });
    expect(renamed.changes).toEqual(['the serving certificate lacks DNS:guard, DNS:guard.security.svc: issued a new serving certificate']);
    expect(new X509Certificate(renamed.next.cert).subjectAltName).toContain('DNS:guard.security.svc');
    expect(renamed.next.caBundle).toBe(first.next.caBundle);
  });

  it.each([
    ['an unreadable bundle', { caBundle: 'not a certificate' }, /^the stored CA bundle holds no certificate: /],
    ['a CA key of another CA', { caKey: plan(undefined, 0).next.caKey }, /^the stored CA keys do not match the CA bundle: /],
    ['a serving key of another certificate', { key: plan(undefined, 0).next.key }, /^the stored serving key does not match its certificate: /],
    ['a serving certificate from another CA', (() => { const other = plan(undefined, 0).next; return { cert: other.cert, key: other.key }; })(), /^the stored serving certificate was not signed by a trusted CA: /],
    ['garbage in the key', { caKey: '-----BEGIN PRIVATE KEY-----\nxx\n-----END PRIVATE KEY-----\n' }, /^the stored certificates cannot be read \(/],
  ])('starts over with new certificates from %s', (_what, damage, reason) => {
    const broken = plan({ ...first.next, ...damage }, 1);
    expect(broken.changes).toEqual([expect.stringMatching(reason)]);
    expect(signedBy(broken.next.cert, broken.next.caBundle)).toBe(true);
    expect(broken.next.caBundle).not.toBe(first.next.caBundle);
  });

  it('starts over once the CA has expired', () => {
    expect(plan(first.next, 311).changes).toEqual(['the stored CA has expired: created a new CA and serving certificate']);
  });
});
