/**
 * Fault: the serving certificate rotated while clients keep opening new TLS connections (a full
 * handshake each) and others keep theirs alive. Not one handshake or request may fail, and new
 * connections must move to the new certificate. Two rotations, each to a pair from a new CA
 * (the clients trust all of them): the atomic `..data` symlink swap of a Kubernetes Secret volume,
 * then an in-place rewrite of the two files one after the other, which leaves a mismatched pair
 * on disk for a while.
 */
import { X509Certificate } from 'node:crypto';
import { mkdirSync, mkdtempSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../src/cli/serve.js';
import { parseServeOptions } from '../../src/config/options.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { generateCertificates, type CertificateBundle } from '../../src/tls/certs.js';
import { request } from '../helpers/https.js';
import { waitFor } from '../helpers/wait-for.js';
import { failures, startLoad, wrongVerdicts, type Attempt } from './load.js';
import { podShot, requireLabel, sleep } from './support.js';

let running: RunningServer | undefined;
afterEach(async () => { await running?.close(); running = undefined; });

const pair = () => generateCertificates({ dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'], days: 2 });
const fingerprintOf = (bundle: CertificateBundle) => new X509Certificate(bundle.cert).fingerprint256;

/** A directory laid out as the kubelet mounts a Secret: `tls.crt -> ..data/tls.crt`, `..data -> ..<version>`. */
class SecretVolume {
  private version = 0;
  constructor(readonly dir: string, first: CertificateBundle) {
    this.publish(first);
    symlinkSync('..data/tls.crt', path.join(dir, 'tls.crt'));
    symlinkSync('..data/tls.key', path.join(dir, 'tls.key'));
  }

  /** What the kubelet does on a Secret update: a new directory, then one atomic rename of `..data`. */
  publish(bundle: CertificateBundle): void {
    const version = `..v${++this.version}`;
    mkdirSync(path.join(this.dir, version));
    writeFileSync(path.join(this.dir, version, 'tls.crt'), bundle.cert);
    writeFileSync(path.join(this.dir, version, 'tls.key'), bundle.key);
    symlinkSync(version, path.join(this.dir, '..data_tmp'));
    renameSync(path.join(this.dir, '..data_tmp'), path.join(this.dir, '..data'));
  }
}

/** New connections must never go back to an older certificate once a newer one was served. */
function regressions(attempts: readonly Attempt[], order: readonly string[]): string[] {
  const fresh = attempts.filter((attempt) => !attempt.reused);
  const firstServedAt = order.map((fingerprint) => Math.min(...fresh.filter((attempt) => attempt.fingerprint === fingerprint).map((attempt) => attempt.endedAt)));
  const problems: string[] = [];
  for (const attempt of fresh) {
    const rank = order.indexOf(attempt.fingerprint ?? '');
    if (rank < 0) problems.push(`${attempt.client}: unexpected certificate ${attempt.fingerprint}`);
    const newer = firstServedAt.findIndex((servedAt, newerRank) => newerRank > rank && attempt.startedAt > servedAt);
    if (newer >= 0) problems.push(`${attempt.client}: certificate ${rank} on a connection opened after certificate ${newer} was served`);
  }
  return problems;
}

describe('certificate files rotated under load', () => {
  it('no failed handshake or request; new connections present each new certificate', async () => {
    const [first, second, third] = [pair(), pair(), pair()];
    const dir = mkdtempSync(path.join(os.tmpdir(), 'tierguard-rotation-'));
    const volume = new SecretVolume(dir, first);
    writeFileSync(path.join(dir, 'policies.yaml'), requireLabel('team'));
    running = await startServer(parseServeOptions({
      address: '127.0.0.1', port: 0, metricsAddress: '127.0.0.1', metricsPort: 0,
      tlsCert: path.join(dir, 'tls.crt'), tlsKey: path.join(dir, 'tls.key'), certReloadIntervalMs: 100, config: [path.join(dir, 'policies.yaml')],
    }), silentLogger);
    const { port } = running;
    const good: Record<string, unknown> = {};
    for (const [tag, labels] of [['with-team', { team: 'a' }], ['without-team', {}]] as const) {
      const shot = podShot(tag, labels);
      const { uid: _uid, ...response } = (await request({ port, ca: first.caCert, path: shot.path, body: shot.body })).json().response;
      good[tag] = response;
    }

    const traffic = startLoad({
      port,
      ca: [first.caCert, second.caCert, third.caCert],
      clients: [
        { name: 'new-connection-1', keepAlive: false }, { name: 'new-connection-2', keepAlive: false }, { name: 'new-connection-3', keepAlive: false },
        { name: 'keep-alive-1', keepAlive: true }, { name: 'keep-alive-2', keepAlive: true },
      ],
      next: (_client, n) => (n % 2 === 0 ? podShot('with-team', { team: 'a' }) : podShot('without-team', {})),
      maxRequests: 4000,
      gapMs: 5,
    });
    const presented = (bundle: CertificateBundle) => traffic.attempts.some((attempt) => !attempt.reused && attempt.fingerprint === fingerprintOf(bundle));
    /** Lets the traffic run for `n` more requests of each kind (new connection, kept alive) from now. */
    const moreTraffic = async (n: number, what: string) => {
      const counts = () => ({ fresh: traffic.attempts.filter((attempt) => !attempt.reused).length, reused: traffic.attempts.filter((attempt) => attempt.reused).length });
      const before = counts();
      await waitFor(() => { const now = counts(); return now.fresh >= before.fresh + n && now.reused >= before.reused + n; }, { what: `${n} more requests of each kind ${what}` });
    };
    await moreTraffic(20, 'with the first certificate');
    volume.publish(second);
    await waitFor(() => presented(second), { what: 'a new connection with the second certificate' });
    await moreTraffic(20, 'with the second certificate');
    // In place, one file after the other: for a while the files hold the new certificate and the
    // old key, which must not be applied (handshakes would fail). The reload check runs every
    // 100 ms; a machine too busy to run it in these 300 ms makes this check weaker, never wrong.
    writeFileSync(path.join(dir, 'tls.crt'), third.cert);
    await sleep(300);
    expect(presented(third)).toBe(false);
    writeFileSync(path.join(dir, 'tls.key'), third.key);
    await waitFor(() => presented(third), { what: 'a new connection with the third certificate' });
    await moreTraffic(20, 'with the third certificate');
    const attempts = await traffic.stop();

    expect(failures(attempts)).toEqual([]);
    expect(wrongVerdicts(attempts, good)).toEqual([]);
    expect(regressions(attempts, [first, second, third].map(fingerprintOf))).toEqual([]);
    const handshakes = attempts.filter((attempt) => !attempt.reused).length;
    const keptAlive = attempts.filter((attempt) => attempt.reused).length;
    expect(handshakes).toBeGreaterThan(50);
    expect(keptAlive).toBeGreaterThan(50);
    expect((await running.metrics.certificateExpiry.get()).values[0]?.value).toBe(Math.floor(third.notAfter.getTime() / 1000));
    console.info(`certificate rotation: ${attempts.length} requests (${handshakes} new TLS connections, ${keptAlive} kept alive), 0 failed`);
  });
});
