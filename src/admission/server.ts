/**
 * The webhook's HTTP surface: `POST /mutate`, `POST /validate`, `GET /healthz`, `GET /readyz`.
 * The two admission routes are served straight from node's request listener: express 5's
 * routing alone halved throughput in measurement (ADR 4), so express serves everything else.
 * Bodies are read here (not by `express.json()`, which costs more than the whole evaluation), with
 * a size limit and a content-type check; every admission answer is an AdmissionReview with HTTP 200,
 * as controller-runtime does, so a malformed request is denied whatever the failure policy.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { Logger } from '../telemetry/logger.js';
import type { Metrics, Webhook } from '../telemetry/metrics.js';
import type { AdmissionHandler } from './handler.js';
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
 * (the API server calls `/validate?timeout=10s`, so the query is ignored), the rest to express.
 */
export function createWebhookListener(options: WebhookAppOptions): (req: IncomingMessage, res: ServerResponse) => void {
  const routes = { '/mutate': admissionRoute('mutate', options), '/validate': admissionRoute('validate', options) } as const;
  const app = createWebhookApp(options);
  return (req, res) => {
    const url = req.url ?? '';
    const query = url.indexOf('?');
    const route = req.method === 'POST' ? routes[(query < 0 ? url : url.slice(0, query)) as keyof typeof routes] : undefined;
    if (route) {
      void route(req, res);
      return;
    }
    app(req, res);
  };
}

/** Everything but the admission POSTs: health, readiness, and JSON 404/405 answers. */
function createWebhookApp(options: WebhookAppOptions): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  app.set('query parser', false);
  app.get('/healthz', (_req, res) => { res.json({ status: 'ok' }); });
  app.get('/readyz', (_req, res) => {
    const ready = options.ready();
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'not ready' });
  });
  app.all('/mutate', methodNotAllowed);
  app.all('/validate', methodNotAllowed);
  app.use((_req: Request, res: Response) => { res.status(404).json({ error: 'not found' }); });
  app.use((error: Error, _req: Request, res: Response, _next: NextFunction) => {
    options.logger.error('unhandled error', { error: error.message });
    if (!res.headersSent) res.status(500).json({ error: 'internal error' });
  });
  return app;
}

function methodNotAllowed(_req: Request, res: Response): void {
  res.status(405).set('Allow', 'POST').json({ error: 'use POST with an admission.k8s.io/v1 AdmissionReview' });
}

function admissionRoute(webhook: Webhook, options: WebhookAppOptions) {
  const { metrics, logger, maxBodyBytes } = options;
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const stopTimer = metrics.duration.startTimer({ webhook });
    let kind = 'unknown';
    try {
      const body = await readBody(req, maxBodyBytes);
      if (body === undefined) {
        metrics.errors.inc({ webhook, reason: 'too_large' });
        res.setHeader('Connection', 'close');
        send(res, reviewOf(errored('', 413, `request body is larger than the limit of ${maxBodyBytes} bytes (--max-body-bytes)`)));
        return;
      }
      const contentType = req.headers['content-type'] ?? '';
      if (!/^application\/json\s*(;|$)/i.test(contentType)) {
        metrics.errors.inc({ webhook, reason: 'bad_request' });
        send(res, reviewOf(errored(uidOf(body), 400, `Content-Type is ${JSON.stringify(contentType)}, expected application/json`)));
        return;
      }
      if (body.length === 0) {
        metrics.errors.inc({ webhook, reason: 'bad_request' });
        send(res, reviewOf(errored('', 400, 'request body is empty')));
        return;
      }
      const handled = await options.handler(webhook, body);
      kind = handled.kind;
      send(res, handled.review);
    } catch (error) {
      metrics.errors.inc({ webhook, reason: 'internal' });
      logger.error('admission route failed', { webhook, error: (error as Error).message });
      if (!res.headersSent) send(res, reviewOf(errored('', 500, 'tierguard failed to handle the request')));
    } finally {
      stopTimer({ kind });
    }
  };
}

function send(res: ServerResponse, review: unknown): void {
  const payload = JSON.stringify(review);
  res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(payload) });
  res.end(payload);
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
