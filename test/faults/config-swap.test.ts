/**
 * Fault: a `--config` file replaced with a broken one while the webhook is under load. The last
 * good set must stay in force for every request (not one failed or differently decided answer),
 * the failed reload is counted, and a fixed file is picked up afterwards. Two ways of replacing
 * the file: an atomic rename (what ConfigMap volumes and careful tools do) and a truncating
 * in-place write by a slow writer, whose half-written states must never be loaded.
 */
import { renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../src/cli/serve.js';
import { parseServeOptions } from '../../src/config/options.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import type { Metrics } from '../../src/telemetry/metrics.js';
import { request } from '../helpers/https.js';
import { testCertificates, type TestCertificates } from '../helpers/tls.js';
import { waitFor } from '../helpers/wait-for.js';
import { failures, startLoad, wrongVerdicts, type LoadClient } from './load.js';
import { BROKEN, BROKEN_SPLIT, podShot, requireLabel } from './support.js';

let running: RunningServer | undefined;
afterEach(async () => { await running?.close(); running = undefined; });

const CLIENTS: readonly LoadClient[] = [
  { name: 'keep-alive-1', keepAlive: true }, { name: 'keep-alive-2', keepAlive: true }, { name: 'keep-alive-3', keepAlive: true },
  { name: 'new-connection-1', keepAlive: false }, { name: 'new-connection-2', keepAlive: false },
];
const WITH_TEAM = { app: 'api', team: 'payments' };
const WITHOUT_TEAM = { app: 'api' };

async function reloads(metrics: Metrics, result: 'success' | 'failure'): Promise<number> {
  return (await metrics.reloads.get()).values.find((value) => value.labels.result === result)?.value ?? 0;
}

interface Served {
  readonly server: RunningServer;
  readonly certs: TestCertificates;
  readonly file: string;
  /** The response each tag gets from the good set (uid aside). */
  readonly good: Record<string, unknown>;
}

async function serveGoodSet(pollMs: number): Promise<Served> {
  const certs = testCertificates();
  const file = path.join(certs.dir, 'policies.yaml');
  writeFileSync(file, requireLabel('team'));
  const server = await startServer(parseServeOptions({
    address: '127.0.0.1', port: 0, metricsAddress: '127.0.0.1', metricsPort: 0,
    tlsCert: certs.certFile, tlsKey: certs.keyFile, config: [file], configPollIntervalMs: pollMs,
  }), silentLogger);
  running = server;
  const good: Record<string, unknown> = {};
  for (const [tag, labels] of [['with-team', WITH_TEAM], ['without-team', WITHOUT_TEAM]] as const) {
    const { response } = await post(server.port, certs.caCert, tag, labels);
    const { uid: _uid, ...rest } = response;
    good[tag] = rest;
  }
  expect(good['with-team']).toMatchObject({ allowed: true });
  expect(good['without-team']).toMatchObject({ allowed: false, status: { code: 403 } });
  return { server, certs, file, good };
}

async function post(port: number, ca: string, tag: string, labels: Record<string, string>): Promise<any> {
  const shot = podShot(tag, labels);
  return (await request({ port, ca, path: shot.path, body: shot.body })).json();
}

function load(served: Served) {
  return startLoad({
    port: served.server.port,
    ca: served.certs.caCert,
    clients: CLIENTS,
    next: (_client, n) => (n % 2 === 0 ? podShot('with-team', WITH_TEAM) : podShot('without-team', WITHOUT_TEAM)),
    maxRequests: 3000,
    gapMs: 15,
  });
}

/**
 * Rewrites `file` in place `rounds` times on a worker thread (its own clock, whatever the test's
 * event loop is doing): truncate, pause, write up to `split`, pause, write the rest, pause.
 */
function slowInPlaceWrites(options: { file: string; text: string; split: number; rounds: number; pauseMs: number }): Promise<void> {
  const code = `
    const { workerData: w } = require('node:worker_threads');
    const fs = require('node:fs');
    const pause = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
    for (let round = 0; round < w.rounds; round++) {
      const fd = fs.openSync(w.file, 'w');
      pause(w.pauseMs);
      fs.writeSync(fd, w.text.slice(0, w.split));
      pause(w.pauseMs);
      fs.writeSync(fd, w.text.slice(w.split));
      fs.closeSync(fd);
      pause(w.pauseMs * 2);
    }`;
  return new Promise((resolve, reject) => {
    const worker = new Worker(code, { eval: true, workerData: options });
    worker.on('error', reject);
    worker.on('exit', (exitCode) => (exitCode === 0 ? resolve() : reject(new Error(`writer exited with ${exitCode}`))));
  });
}

describe('a --config file replaced with a broken one under load', () => {
  it('atomic rename: the last good set decides every request, the failure is counted, a fixed file is picked up', async () => {
    const served = await serveGoodSet(100);
    const { metrics } = served.server;
    const traffic = load(served);
    await waitFor(() => traffic.attempts.length > 10, { what: 'some requests before the swap' });
    const swappedAt = Date.now();
    writeFileSync(`${served.file}.tmp`, BROKEN);
    renameSync(`${served.file}.tmp`, served.file);
    await waitFor(async () => (await reloads(metrics, 'failure')) >= 1, { what: 'the failed reload' });
    const failedAt = Date.now();
    await waitFor(() => traffic.attempts.filter((attempt) => attempt.startedAt > failedAt).length > 10, { what: 'some requests after the failed reload' });
    const attempts = await traffic.stop();

    expect(failures(attempts)).toEqual([]);
    expect(wrongVerdicts(attempts, served.good)).toEqual([]);
    expect(attempts.filter((attempt) => attempt.startedAt > failedAt).length).toBeGreaterThan(10);
    expect(attempts.filter((attempt) => attempt.startedAt < swappedAt).length).toBeGreaterThan(10);
    expect(await reloads(metrics, 'failure')).toBe(1);
    expect(await reloads(metrics, 'success')).toBe(1);

    writeFileSync(`${served.file}.tmp`, requireLabel('owner'));
    renameSync(`${served.file}.tmp`, served.file);
    await waitFor(async () => (await reloads(metrics, 'success')) === 2, { what: 'the fixed file' });
    const fixed = await post(served.server.port, served.certs.caCert, 'with-team', WITH_TEAM);
    expect(fixed.response).toMatchObject({ allowed: false, status: { code: 403 } });
    expect(fixed.response.status.message).toContain('missing required label owner');
    console.info(`config swap by rename: ${attempts.length} requests under load, 0 failed`);
  });

  it('truncating in-place writes: no half-written state is ever loaded, the failure is counted, a fixed file is picked up', async () => {
    // Each rewrite leaves the file empty, then holding only the Tier (both valid sets with no
    // guardrail, which would admit everything) for 40 ms each: well inside one 1 s poll, even
    // when a busy machine holds the writer back many times that long.
    const served = await serveGoodSet(1000);
    const { metrics } = served.server;
    const traffic = load(served);
    await waitFor(() => traffic.attempts.length > 10, { what: 'some requests before the writes' });
    await slowInPlaceWrites({ file: served.file, text: BROKEN, split: BROKEN_SPLIT, rounds: 8, pauseMs: 40 });
    await waitFor(async () => (await reloads(metrics, 'failure')) >= 1, { what: 'the failed reload' });
    const failedAt = Date.now();
    await waitFor(() => traffic.attempts.filter((attempt) => attempt.startedAt > failedAt).length > 10, { what: 'some requests after the failed reload' });
    const attempts = await traffic.stop();

    expect(failures(attempts)).toEqual([]);
    expect(wrongVerdicts(attempts, served.good)).toEqual([]);
    expect(attempts.filter((attempt) => attempt.startedAt > failedAt).length).toBeGreaterThan(10);
    expect(await reloads(metrics, 'success')).toBe(1);

    await slowInPlaceWrites({ file: served.file, text: requireLabel('owner'), split: BROKEN_SPLIT, rounds: 1, pauseMs: 40 });
    await waitFor(async () => (await reloads(metrics, 'success')) === 2, { what: 'the fixed file' });
    const fixed = await post(served.server.port, served.certs.caCert, 'with-team', WITH_TEAM);
    expect(fixed.response.status.message).toContain('missing required label owner');
    expect(await reloads(metrics, 'success')).toBe(2);
    console.info(`config swap by slow in-place writes: ${attempts.length} requests under load, 0 failed`);
  });
});
