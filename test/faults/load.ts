/**
 * Bounded load for the fault tests: a few concurrent HTTPS clients on 127.0.0.1, each sending
 * one AdmissionReview after another until stopped or until the total cap is reached. Every
 * attempt is recorded (answer or error, the certificate the server presented, whether the
 * connection was new), so a test can count failures exactly.
 */
import https from 'node:https';
import type { TLSSocket } from 'node:tls';

export interface LoadClient {
  readonly name: string;
  /** false: a new TCP connection and a full TLS handshake for every request (no session reuse). */
  readonly keepAlive: boolean;
}

/** What one client sends next: the path, the body and a tag naming the expected answer. */
export interface Shot {
  readonly path: string;
  readonly body: string;
  readonly tag: string;
}

export interface Attempt {
  readonly client: string;
  readonly tag: string;
  readonly uid: string;
  readonly startedAt: number;
  readonly endedAt: number;
  /** The HTTP status, when an answer came. */
  readonly status?: number;
  /** The parsed body; undefined when it was not JSON. */
  readonly review?: any;
  readonly text?: string;
  /** The error code or message, when the request failed (no answer). */
  readonly error?: string;
  /** SHA-256 fingerprint of the certificate the server presented on this connection. */
  readonly fingerprint?: string;
  /** True when the request went over a kept-alive connection. */
  readonly reused: boolean;
}

export interface LoadOptions {
  readonly port: number;
  /** CA certificates the clients trust. */
  readonly ca: string | string[];
  readonly clients: readonly LoadClient[];
  /** The next request of a client; `n` counts that client's requests from 0. */
  readonly next: (client: LoadClient, n: number) => Shot;
  /** Hard cap on requests, all clients together. */
  readonly maxRequests: number;
  /** Pause between two requests of one client, in ms. */
  readonly gapMs: number;
}

export interface Load {
  readonly attempts: readonly Attempt[];
  /** Stops sending; resolves when every request in flight has its answer or error. */
  stop(): Promise<readonly Attempt[]>;
}

let sequence = 0;

/** A body with a fresh uid; `review` is a captured AdmissionReview (deep-copied here). */
export function withUid(review: any, uid = `fault-${process.pid}-${++sequence}`): { body: string; uid: string } {
  const copy = structuredClone(review);
  copy.request.uid = uid;
  return { body: JSON.stringify(copy), uid };
}

export function startLoad(options: LoadOptions): Load {
  const attempts: Attempt[] = [];
  let stopped = false;
  let sent = 0;
  const loops = options.clients.map(async (client) => {
    const agent = new https.Agent({ keepAlive: client.keepAlive, maxSockets: 1, maxCachedSessions: client.keepAlive ? 100 : 0, ca: options.ca, servername: 'localhost' });
    try {
      for (let n = 0; !stopped && sent < options.maxRequests; n++) {
        sent++;
        attempts.push(await send({ port: options.port, agent, client: client.name, shot: options.next(client, n) }));
        await new Promise((resolve) => setTimeout(resolve, options.gapMs));
      }
    } finally {
      agent.destroy();
    }
  });
  return {
    attempts,
    async stop() {
      stopped = true;
      await Promise.all(loops);
      return attempts;
    },
  };
}

function send(options: { port: number; agent: https.Agent; client: string; shot: Shot }): Promise<Attempt> {
  const { shot } = options;
  const uid = (JSON.parse(shot.body) as { request?: { uid?: string } }).request?.uid ?? '';
  const startedAt = Date.now();
  const base = { client: options.client, tag: shot.tag, uid, startedAt };
  return new Promise((resolve) => {
    const req = https.request({
      host: '127.0.0.1',
      port: options.port,
      method: 'POST',
      path: shot.path,
      agent: options.agent,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(shot.body) },
    }, (res) => {
      const fingerprint = (res.socket as TLSSocket).getPeerCertificate().fingerprint256;
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', (error: NodeJS.ErrnoException) => resolve({ ...base, endedAt: Date.now(), error: error.code ?? error.message, reused: req.reusedSocket }));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let review: unknown;
        try {
          review = JSON.parse(text);
        } catch {
          review = undefined;
        }
        resolve({ ...base, endedAt: Date.now(), status: res.statusCode ?? 0, review, text, fingerprint, reused: req.reusedSocket });
      });
    });
    req.on('error', (error: NodeJS.ErrnoException) => resolve({ ...base, endedAt: Date.now(), error: error.code ?? error.message, reused: req.reusedSocket }));
    req.end(shot.body);
  });
}

/** The attempts that did not get a 200 AdmissionReview echoing their uid, described for a failure message. */
export function failures(attempts: readonly Attempt[]): string[] {
  return attempts.filter((attempt) => attempt.status !== 200 || attempt.review?.kind !== 'AdmissionReview' || attempt.review?.apiVersion !== 'admission.k8s.io/v1' || attempt.review?.response?.uid !== attempt.uid)
    .map((attempt) => `${attempt.client} ${attempt.tag} ${attempt.uid}: ${attempt.error ?? `HTTP ${attempt.status} ${attempt.text?.slice(0, 200)}`}`);
}

/**
 * Answers that differ from the expected response of their tag (the uid aside), described.
 * `expected[tag]` is the `response` a request of that tag must get.
 */
export function wrongVerdicts(attempts: readonly Attempt[], expected: Readonly<Record<string, unknown>>): string[] {
  const wrong: string[] = [];
  for (const attempt of attempts) {
    const response = attempt.review?.response;
    if (response === undefined) continue;
    const want = { ...(expected[attempt.tag] as object), uid: attempt.uid };
    if (JSON.stringify(sortKeys(response)) !== JSON.stringify(sortKeys(want))) wrong.push(`${attempt.client} ${attempt.tag}: got ${JSON.stringify(response).slice(0, 300)}`);
  }
  return wrong;
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(Object.entries(value).sort(([a], [b]) => (a < b ? -1 : 1)).map(([key, item]) => [key, sortKeys(item)]));
}
