/**
 * Graceful stop of the webhook's HTTPS server, for rolling updates and node drains.
 *
 * When a pod is deleted, the kubelet sends SIGTERM while the endpoint controller, kube-proxy and
 * the API server are still learning that the pod is gone: for a few seconds new admission calls
 * keep arriving. So draining goes in three steps:
 * 1. at once: `draining()` turns true (`/readyz` answers 503) and every answer carries
 *    `Connection: close`, so keep-alive clients reconnect — to another replica once the
 *    endpoints have caught up; requests are still served normally;
 * 2. after `delayMs`: the listener closes (no new connections) and idle keep-alive connections
 *    are closed;
 * 3. requests in flight finish; after `timeoutMs` more, the connections still open are cut.
 * HTTP/1.1 has no way to tell a client "do not send on this idle connection": a request sent at
 * the very moment its idle connection is closed in step 2 fails, which is why the delay exists.
 */
import type { IncomingMessage, Server as HttpServer, ServerResponse } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { Logger } from '../telemetry/logger.js';

export type RequestListener = (req: IncomingMessage, res: ServerResponse) => void;

export interface GracefulShutdownOptions {
  /** Time between the start of draining and closing the listener, in ms. */
  readonly delayMs: number;
  /** Time requests in flight are given once the listener is closed, in ms. */
  readonly timeoutMs: number;
  readonly logger: Logger;
}

export interface DrainOutcome {
  /** Requests still unanswered when `timeoutMs` ran out; their connections were cut. 0 = clean. */
  readonly cutRequests: number;
}

export interface GracefulShutdown {
  /** Wraps the server's request listener, to know the requests in flight. Use it once. */
  track(listener: RequestListener): RequestListener;
  /** True from the moment `drain` is called: the replica must be taken out of the endpoints. */
  draining(): boolean;
  /** Requests received and not yet answered. */
  inFlight(): number;
  /** Runs the three steps above on `server` (whose listener was `track`ed); resolves when it is closed. */
  drain(server: HttpServer | HttpsServer): Promise<DrainOutcome>;
}

/**
 * @example
 * const shutdown = createGracefulShutdown({ delayMs: 5000, timeoutMs: 15_000, logger });
 * const server = https.createServer(tls, shutdown.track(listener));
 * process.once('SIGTERM', () => void shutdown.drain(server).then(({ cutRequests }) => process.exit(cutRequests ? 1 : 0)));
 */
export function createGracefulShutdown(options: GracefulShutdownOptions): GracefulShutdown {
  const active = new Set<ServerResponse>();
  let draining = false;
  let onAnswered: (() => void) | undefined;
  let result: Promise<DrainOutcome> | undefined;

  return {
    track: (listener) => (req, res) => {
      active.add(res);
      res.once('close', () => {
        active.delete(res);
        onAnswered?.();
      });
      if (draining) res.setHeader('Connection', 'close');
      listener(req, res);
    },
    draining: () => draining,
    inFlight: () => active.size,
    drain(server) {
      if (result) return result;
      draining = true;
      // Answers already being prepared also close their connection once sent.
      for (const res of active) if (!res.headersSent) res.setHeader('Connection', 'close');
      options.logger.info('draining: /readyz answers 503, requests are still served', { delayMs: options.delayMs, timeoutMs: options.timeoutMs, inFlight: active.size });
      result = delay(options.delayMs).then(() => stopAccepting({ server, active, timeoutMs: options.timeoutMs, logger: options.logger, setOnAnswered: (fn) => { onAnswered = fn; } }));
      return result;
    },
  };
}

interface StopOptions {
  readonly server: HttpServer | HttpsServer;
  readonly active: Set<ServerResponse>;
  readonly timeoutMs: number;
  readonly logger: Logger;
  readonly setOnAnswered: (fn: () => void) => void;
}

function stopAccepting(options: StopOptions): Promise<DrainOutcome> {
  const { server, active, logger } = options;
  return new Promise((resolve) => {
    let settled = false;
    const timer = setTimeout(() => {
      settled = true;
      const cutRequests = active.size;
      logger.warn('shutdown timeout: cutting the connections still open (--shutdown-timeout)', { cutRequests });
      server.closeAllConnections();
      resolve({ cutRequests });
    }, options.timeoutMs);
    server.close(() => {
      clearTimeout(timer);
      if (settled) return;
      logger.info('drained: every request in flight was answered');
      resolve({ cutRequests: 0 });
    });
    // A connection whose answer was already on its way when draining began stays open once the
    // answer is sent; close it as soon as it is idle.
    options.setOnAnswered(() => setImmediate(() => server.closeIdleConnections()));
    server.closeIdleConnections();
    logger.info('stopped accepting connections; waiting for requests in flight', { inFlight: active.size });
  });
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
