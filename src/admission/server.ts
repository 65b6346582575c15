/**
 * The webhook's HTTP surface: `POST /mutate`, `POST /validate`, `GET /healthz`, `GET /readyz`.
 * Served straight from node's request listener: express 5's routing alone halved throughput in
 * measurement (ADR 4), and once the admission POSTs bypassed it, it served only two probes and
 * the 404/405 answers while its loading cost start-up ~0.2 s, so those are answered here too.
 * Bodies are read here (not by a JSON body parser, which costs more than the whole evaluation), with
 * a size limit and a content-type check; every admission answer is an AdmissionReview with HTTP 200,
 * as controller-runtime does, so a malformed request is denied whatever the failure policy.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../telemetry/logger.js';
import type { Metrics, Webhook } from '../telemetry/metrics.js';
import { countRefused, type AdmissionHandler } from './handler.js';
import { errored, reviewOf } from './review.js';

export interface WebhookAppOptions {
  readonly handler: AdmissionHandler;
  /** True once a policy set is loaded (and, in a cluster, caches are synced). */
  readonly ready: () => boolean;
  readonly maxBodyBytes: number;
  readonly metrics: Metrics;
  readonly logger: Logger;
}

/**
 * The request listener for the HTTPS server: admission POSTs go straight to their handler
 * (the API server calls `/validate?timeout=10s`, so the query is ignored); `GET /healthz` and
 * `GET /readyz` (and HEAD) answer the probes; anything else is a JSON 404, or 405 for another
 * method on an admission path. Paths match as express matched them: any case, one trailing `/`.
 */
export function createWebhookListener(options: WebhookAppOptions): (req: IncomingMessage, res: ServerResponse) => void {
  const nextReviewTurn = reviewTurns();
  const routes = { '/mutate': admissionRoute('mutate', options, nextReviewTurn), '/validate': admissionRoute('validate', options, nextReviewTurn) } as const;
  return (req, res) => {
    const url = req.url ?? '';
    const query = url.indexOf('?');
    const route = req.method === 'POST' ? routes[(query < 0 ? url : url.slice(0, query)) as keyof typeof routes] : undefined;
    if (route) {
      void route(req, res);
      return;
    }
    try {
      answerOther(req, res, options);
    } catch (error) {
      options.logger.error('unhandled error', { error: (error as Error).message });
      if (!res.headersSent) sendJson(req, res, 500, { error: 'internal error' });
    }
  };
}

/** Health, readiness, and JSON 404/405 answers. */
function answerOther(req: IncomingMessage, res: ServerResponse, options: WebhookAppOptions): void {
  const url = req.url ?? '';
  const query = url.indexOf('?');
  let path = (query < 0 ? url : url.slice(0, query)).toLowerCase();
  if (path.length > 1 && path.endsWith('/')) path = path.slice(0, -1);
  const read = req.method === 'GET' || req.method === 'HEAD';
  if (read && path === '/healthz') return sendJson(req, res, 200, { status: 'ok' });
  if (read && path === '/readyz') {
    const ready = options.ready();
    return sendJson(req, res, ready ? 200 : 503, { status: ready ? 'ready' : 'not ready' });
  }
  if (path === '/mutate' || path === '/validate') {
    res.setHeader('Allow', 'POST');
    return sendJson(req, res, 405, { error: 'use POST with an admission.k8s.io/v1 AdmissionReview' });
  }
  sendJson(req, res, 404, { error: 'not found' });
}

/** A JSON answer as express's `res.json` wrote it; no body for HEAD. */
function sendJson(req: IncomingMessage, res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
  res.end(req.method === 'HEAD' ? undefined : text);
}

/** An admission POST's answer, ready to write: always HTTP 200 with an AdmissionReview. */
interface Answer {
  readonly payload: string;
  /** The request's kind as a metric label (`unknown` when the body could not be read). */
  readonly kind: string;
  /** The body was not read to its end, so the connection cannot carry another request. */
  readonly close?: boolean;
  /** The turn whose requests it was reviewed with; none when it was refused unread. */
  readonly turn?: ReviewTurn;
}

/**
 * The admission POSTs whose bodies were read in one turn of the event loop, reviewed together
 * once its callbacks have run (`nextReviewTurn`).
 *
 * A busy webhook reads several requests in one turn. Reviewed as each body came in, every review
 * ran between the socket reads of the others and the answer writes of the ones before it, and on
 * this project's test machine the code that runs after a system call is the slower for it (ADR
 * 17, ADR 18). So each request is reviewed once the turn that read its body has run its callbacks:
 * the requests of that turn are then reviewed one after the other, with no system call between
 * them. When there were several, their answers are written after the last review, together; a
 * request read alone is answered as soon as it is reviewed, in the same turn of the loop.
 */
interface ReviewTurn {
  size: number;
}

/** Joins the current turn's reviews; resolves once the turn's callbacks have run. */
type NextReviewTurn = () => Promise<ReviewTurn>;

function reviewTurns(): NextReviewTurn {
  let open: ReviewTurn | undefined;
  return async () => {
    const turn = (open ??= { size: 0 });
    turn.size++;
    await afterTurn();
    // The first review of the turn closes it: bodies read from now on are the next turn's.
    if (open === turn) open = undefined;
    return turn;
  };
}

/** Resolves once the callbacks of the current turn of the event loop have run (`setImmediate`). */
function afterTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function admissionRoute(webhook: Webhook, options: WebhookAppOptions, nextReviewTurn: NextReviewTurn) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const stopTimer = options.metrics.duration.startTimer({ webhook });
    const answer = await answerPost(webhook, req, options, nextReviewTurn);
    // The other reviews of the turn first; their answers are written together, after them.
    if (answer.turn && answer.turn.size > 1) await afterTurn();
    // Timed up to the write, not through it: the write wakes the API server, which on a busy node
    // then holds the CPU until `res.end` returns (1.3–2.5 ms measured on 2 cores, issue 11, against
    // 0.1 ms with an idle peer). That is the API server's time; Go's net/http flushes a small answer
    // after the handler returns, so controller-runtime's latency metric leaves it out too. The wait
    // for the other reviews of the turn is tierguard's, and is timed.
    stopTimer({ kind: answer.kind });
    if (answer.close) res.setHeader('Connection', 'close');
    res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(answer.payload) });
    res.end(answer.payload);
  };
}

async function answerPost(webhook: Webhook, req: IncomingMessage, options: WebhookAppOptions, nextReviewTurn: NextReviewTurn): Promise<Answer> {
  const { metrics, logger, maxBodyBytes } = options;
  let kind = 'unknown';
  const answer = (review: unknown, turn?: ReviewTurn): Answer => ({ payload: JSON.stringify(review), kind, turn });
  try {
    const body = await readBody(req, maxBodyBytes);
    if (body === undefined) {
      countRefused(metrics, webhook, 'too_large');
      return { ...answer(reviewOf('', errored(413, `request body is larger than the limit of ${maxBodyBytes} bytes (--max-body-bytes)`))), close: true };
    }
    const contentType = req.headers['content-type'] ?? '';
    if (!/^application\/json\s*(;|$)/i.test(contentType)) {
      countRefused(metrics, webhook, 'bad_request');
      return answer(reviewOf(uidOf(body), errored(400, `Content-Type is ${JSON.stringify(contentType)}, expected application/json`)));
    }
    if (body.length === 0) {
      countRefused(metrics, webhook, 'bad_request');
      return answer(reviewOf('', errored(400, 'request body is empty')));
    }
    const turn = await nextReviewTurn();
    const handled = await options.handler(webhook, body);
    kind = handled.kind;
    return answer(handled.review, turn);
  } catch (error) {
    countRefused(metrics, webhook, 'internal');
    logger.error('admission route failed', { webhook, error: (error as Error).message });
    return answer(reviewOf('', errored(500, 'tierguard failed to handle the request')));
  }
}

/** The whole body as text, or undefined when it exceeds `limit` bytes (the rest is discarded). */
function readBody(req: IncomingMessage, limit: number): Promise<string | undefined> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    req.resume();
    return Promise.resolve(undefined);
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (chunk: Buffer) => {
      if (over) return;
      size += chunk.length;
      if (size > limit) {
        over = true;
        chunks.length = 0;
        resolve(undefined);
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => { if (!over) resolve(Buffer.concat(chunks, size).toString('utf8')); });
    req.on('error', reject);
  });
}

/** The uid of a body that is otherwise unacceptable, so the answer can still echo it. */
function uidOf(body: string): string {
  try {
    const uid = (JSON.parse(body) as { request?: { uid?: unknown } })?.request?.uid;
    return typeof uid === 'string' ? uid : '';
  } catch {
    return '';
  }
}
