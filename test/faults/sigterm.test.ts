/**
 * Fault: SIGTERM under load, as Kubernetes sends it in a rolling update or a node drain, to the
 * built `tierguard serve` (dist/cli/main.js). `/readyz` must turn 503 first while requests are
 * still served for `--shutdown-delay`; then the listener closes, a request in flight still gets
 * its answer, and the process exits 0 well within the grace period. A second signal exits at
 * once; a request that outlives `--shutdown-timeout` is cut and the exit code says so.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import type { TLSSocket } from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { REPO_DIR, review } from '../helpers/fixtures.js';
import { request } from '../helpers/https.js';
import { testCertificates, type TestCertificates } from '../helpers/tls.js';
import { waitFor } from '../helpers/wait-for.js';
import { failures, startLoad, withUid, wrongVerdicts } from './load.js';
import { podShot, requireLabel, sleep } from './support.js';

const CLI = path.join(REPO_DIR, 'dist', 'cli', 'main.js');
const STARTUP_MS = 60_000;

interface Serving {
  readonly child: ChildProcess;
  readonly port: number;
  readonly certs: TestCertificates;
  readonly stderr: () => string;
  /** Settles when the process exits, with its code and the time. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
}

const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

/** Starts `tierguard serve` on 127.0.0.1 (ports chosen by the system) and waits for its "serving" line. */
async function serve(extra: string[]): Promise<Serving> {
  const certs = testCertificates();
  const policies = path.join(certs.dir, 'policies.yaml');
  writeFileSync(policies, requireLabel('team'));
  const child = spawn(process.execPath, [CLI, 'serve', '--config', policies, '--tls-cert', certs.certFile, '--tls-key', certs.keyFile,
    '--address', '127.0.0.1', '--port', '0', '--metrics-address', '127.0.0.1', '--metrics-port', '0', ...extra], { cwd: REPO_DIR, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => { stderr += chunk.toString('utf8'); });
  const exited = once(child, 'exit').then(([code, signal]) => ({ code: code as number | null, signal: signal as NodeJS.Signals | null, at: Date.now() }));
  const port = await new Promise<number>((resolve, reject) => {
    // Starting the built command takes seconds on a busy machine; the bound only turns a hang into a message.
    const timer = setTimeout(() => reject(new Error(`tierguard serve did not start:\n${stderr}`)), STARTUP_MS);
    child.stdout!.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8');
      const match = /serving https:\/\/127\.0\.0\.1:(\d+) /.exec(stdout);
      if (match) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    });
    void exited.then(({ code }) => reject(new Error(`tierguard serve exited with ${code}:\n${stderr}`)));
  });
  return { child, port, certs, stderr: () => stderr, exited };
}

interface Probe {
  readonly startedAt: number;
  readonly endedAt: number;
  /** `200`, `503`, or the connection error code. */
  readonly outcome: string;
}

/** GET /readyz every 20 ms on a new connection, as a kubelet probe does, until stopped. */
function probeReadiness(port: number, ca: string) {
  const probes: Probe[] = [];
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const startedAt = Date.now();
      const outcome = await request({ port, ca, method: 'GET', path: '/readyz' }).then((answer) => String(answer.status), (error: NodeJS.ErrnoException) => error.code ?? error.message);
      probes.push({ startedAt, endedAt: Date.now(), outcome });
      await sleep(20);
    }
  })();
  return { probes, stop: async () => { stopped = true; await loop; return probes; } };
}

/**
 * A request whose body is only half sent: it is in flight on the server until `finish()` sends
 * the rest. Resolves `answer` with the status and parsed body, or rejects with the socket error.
 */
async function halfSentRequest(port: number, ca: string, body: string) {
  const req = https.request({ host: '127.0.0.1', port, method: 'POST', path: '/validate', ca, servername: 'localhost', agent: false, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } });
  const answer = new Promise<{ status: number; json: any; connection?: string }>((resolve, reject) => {
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(Buffer.concat(chunks).toString('utf8')), connection: res.headers.connection }));
    });
    req.on('error', reject);
  });
  answer.catch(() => {});
  const half = Math.floor(body.length / 2);
  req.write(body.slice(0, half));
  const [socket] = await once(req, 'socket') as [TLSSocket];
  await once(socket, 'secureConnect');
  return { answer, finish: () => req.end(body.slice(half)) };
}

/** The response (uid aside) the good set gives each tag, asked before the fault. */
async function goodVerdicts(port: number, ca: string): Promise<Record<string, unknown>> {
  const good: Record<string, unknown> = {};
  for (const [tag, labels] of [['with-team', { team: 'a' }], ['without-team', {}]] as const) {
    const shot = podShot(tag, labels);
    const { uid: _uid, ...response } = (await request({ port, ca, path: shot.path, body: shot.body })).json().response;
    good[tag] = response;
  }
  return good;
}

/** The log messages of the JSON lines on stderr, in order. */
function logMessages(stderr: string): string[] {
  return stderr.split('\n').filter((line) => line.startsWith('{')).map((line) => (JSON.parse(line) as { msg: string }).msg);
}

describe('SIGTERM under load', { timeout: 180_000 }, () => {
  it('turns /readyz 503 first, keeps serving through --shutdown-delay, answers the request in flight, exits 0', async () => {
    // The test must stop its traffic within the delay (as the endpoints stop sending within it):
    // long enough for that on a busy machine. The shutdown timeout is far longer than the exit
    // may take, so that an exit held back by a connection is plain to see.
    const delayMs = 8000;
    const shutdownTimeoutMs = 60_000;
    const server = await serve(['--shutdown-delay', String(delayMs), '--shutdown-timeout', String(shutdownTimeoutMs)]);
    const { port, certs } = server;
    const good = await goodVerdicts(port, certs.caCert);
    // A keep-alive connection left idle must not hold the exit back until --shutdown-timeout.
    const idleAgent = new https.Agent({ keepAlive: true, ca: certs.caCert, servername: 'localhost' });
    const idle = await new Promise<number>((resolve, reject) => {
      https.get({ host: '127.0.0.1', port, path: '/healthz', agent: idleAgent }, (res) => { res.resume(); res.on('end', () => resolve(res.statusCode ?? 0)); }).on('error', reject);
    });
    expect(idle).toBe(200);
    const inFlight = await halfSentRequest(port, certs.caCert, withUid(review('validate-create-pod'), 'in-flight').body);

    const readiness = probeReadiness(port, certs.caCert);
    const traffic = startLoad({
      port,
      ca: certs.caCert,
      clients: [{ name: 'keep-alive-1', keepAlive: true }, { name: 'keep-alive-2', keepAlive: true }, { name: 'keep-alive-3', keepAlive: true }, { name: 'new-connection-1', keepAlive: false }, { name: 'new-connection-2', keepAlive: false }],
      next: (_client, n) => (n % 2 === 0 ? podShot('with-team', { team: 'a' }) : podShot('without-team', {})),
      maxRequests: 2000,
      gapMs: 10,
    });
    await waitFor(() => traffic.attempts.length > 20 && readiness.probes.some((probe) => probe.outcome === '200'), { what: 'traffic and a ready probe before the signal' });
    const killedAt = Date.now();
    server.child.kill('SIGTERM');
    const notReady = await waitFor(() => readiness.probes.find((probe) => probe.startedAt > killedAt && probe.outcome === '503'), { what: '/readyz to answer 503' });
    const notReadyAt = notReady.endedAt;
    // Kubernetes stops sending a little after the endpoints drop the pod: well inside the delay.
    await waitFor(() => traffic.attempts.filter((attempt) => attempt.startedAt > notReadyAt).length > 5, { what: 'requests after /readyz turned 503' });
    const attempts = await traffic.stop();
    expect(Date.now() - killedAt, 'the test stopped its traffic within --shutdown-delay').toBeLessThan(delayMs);

    await waitFor(() => readiness.probes.some((probe) => probe.outcome === 'ECONNREFUSED'), { what: 'the listener to close' });
    inFlight.finish();
    const answered = await inFlight.answer;
    const exit = await server.exited;
    const probes = await readiness.stop();
    idleAgent.destroy();

    expect(failures(attempts)).toEqual([]);
    expect(wrongVerdicts(attempts, good)).toEqual([]);
    expect(attempts.filter((attempt) => attempt.startedAt > notReadyAt).length).toBeGreaterThan(5);
    expect(answered.status).toBe(200);
    expect(answered.json).toMatchObject({ kind: 'AdmissionReview', apiVersion: 'admission.k8s.io/v1', response: { ...(good['without-team'] as object), uid: 'in-flight' } });
    expect(answered.connection).toBe('close');
    // Ready until the signal, then not ready, then no listener: never ready again, never refused while still serving.
    const sequence = probes.map((probe) => (probe.startedAt <= killedAt ? 'R' : ({ 200: 'R', 503: 'N', ECONNREFUSED: 'X', ECONNRESET: 'X' } as Record<string, string>)[probe.outcome] ?? `?${probe.outcome}`)).join('');
    expect(sequence).toMatch(/^R+N+X+$/);
    expect(exit).toMatchObject({ code: 0, signal: null });
    expect(exit.at - killedAt, 'exit without waiting for --shutdown-timeout').toBeLessThan(delayMs + shutdownTimeoutMs / 2);
    expect(logMessages(server.stderr()).filter((message) => /^(shutting down|draining|stopped accepting|drained)/.test(message))).toEqual([
      'shutting down',
      'draining: /readyz answers 503, requests are still served',
      'stopped accepting connections; waiting for requests in flight',
      'drained: every request in flight was answered',
    ]);
    console.info(`SIGTERM: ${attempts.length} requests under load (${attempts.filter((attempt) => attempt.startedAt > notReadyAt).length} after /readyz turned 503), 0 failed; exit 0 after ${exit.at - killedAt} ms`);
  });

  it('with no connection open, drains at once and logs its steps in order', async () => {
    const server = await serve(['--shutdown-delay', '100']);
    server.child.kill('SIGTERM');
    const exit = await server.exited;
    expect(exit).toMatchObject({ code: 0, signal: null });
    expect(logMessages(server.stderr()).filter((message) => /^(shutting down|draining|stopped accepting|drained)/.test(message))).toEqual([
      'shutting down',
      'draining: /readyz answers 503, requests are still served',
      'stopped accepting connections; waiting for requests in flight',
      'drained: every request in flight was answered',
    ]);
    expect(server.stderr()).toContain('"busyConnections":0');
  });

  it('a second signal exits at once, without waiting for the drain', async () => {
    const server = await serve(['--shutdown-delay', '60000']);
    const readiness = probeReadiness(server.port, server.certs.caCert);
    server.child.kill('SIGTERM');
    await waitFor(() => readiness.probes.some((probe) => probe.outcome === '503'), { what: '/readyz to answer 503' });
    await readiness.stop();
    const secondAt = Date.now();
    server.child.kill('SIGINT');
    const exit = await server.exited;
    expect(exit.code).toBe(1);
    // "At once": nowhere near the 60 s the drain would take.
    expect(exit.at - secondAt).toBeLessThan(20_000);
  });

  it('a request that outlives --shutdown-timeout is cut, and the exit code says so', async () => {
    const server = await serve(['--shutdown-delay', '100', '--shutdown-timeout', '1000']);
    const stuck = await halfSentRequest(server.port, server.certs.caCert, withUid(review('validate-create-pod'), 'stuck').body);
    // A request on a new connection (a TLS handshake of its own, several round trips after the
    // stuck request's headers went out) is answered: by then the server has read those headers.
    expect((await request({ port: server.port, ca: server.certs.caCert, method: 'GET', path: '/healthz' })).status).toBe(200);
    const killedAt = Date.now();
    server.child.kill('SIGTERM');
    const exit = await server.exited;
    await expect(stuck.answer).rejects.toThrow();
    expect(exit.code).toBe(1);
    // Cut after delay and timeout (1.1 s), not left hanging.
    expect(exit.at - killedAt).toBeLessThan(20_000);
    expect(server.stderr()).toContain('"cutRequests":1');
  });
});

describe('the Helm chart', () => {
  it('gives the drain room: shutdown delay plus timeout stay below terminationGracePeriodSeconds, and the Deployment passes all three', () => {
    const chart = path.join(REPO_DIR, 'charts', 'tierguard');
    const values = parse(readFileSync(path.join(chart, 'values.yaml'), 'utf8')) as { shutdownDelayMs: number; shutdownTimeoutMs: number; terminationGracePeriodSeconds: number };
    expect(values.shutdownDelayMs + values.shutdownTimeoutMs).toBeLessThan(values.terminationGracePeriodSeconds * 1000);
    const deployment = readFileSync(path.join(chart, 'templates', 'deployment.yaml'), 'utf8');
    expect(deployment).toContain('terminationGracePeriodSeconds: {{ .Values.terminationGracePeriodSeconds }}');
    expect(deployment).toMatch(/- --shutdown-delay\n\s+- \{\{ \.Values\.shutdownDelayMs \| int \| quote \}\}/);
    expect(deployment).toMatch(/- --shutdown-timeout\n\s+- \{\{ \.Values\.shutdownTimeoutMs \| int \| quote \}\}/);
  });
});
