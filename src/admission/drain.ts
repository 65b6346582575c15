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
  /** How often connections that have become idle are closed while waiting (default 50 ms). */
  readonly idleSweepMs?: number;
}

export interface DrainOutcome {
  /** Connections still busy with a request when `timeoutMs` ran out; they were cut. 0 = clean. */
  readonly cutRequests: number;
}

export interface GracefulShutdown {
  /** Wraps the server's request listener, so answers close their connection while draining. */
  track(listener: RequestListener): RequestListener;
  /** True from the moment `drain` is called: the replica must be taken out of the endpoints. */
  draining(): boolean;
  /** Runs the three steps above on `server` (whose listener was `track`ed); resolves when it is closed. */
  drain(server: HttpServer | HttpsServer): Promise<DrainOutcome>;
}

/**
 * Nothing is recorded per request (a listener on every response cost a fifth of the throughput
 * in measurement, through garbage collection): while draining, every answer asks for its
 * connection to be closed, and once the listener is closed node's own bookkeeping tells idle
 * connections from busy ones.
 *
 * @example
 * const shutdown = createGracefulShutdown({ delayMs: 5000, timeoutMs: 15_000, logger });
 * const server = https.createServer(tls, shutdown.track(listener));
 * process.once('SIGTERM', () => void shutdown.drain(server).then(({ cutRequests }) => process.exit(cutRequests ? 1 : 0)));
 */
export function createGracefulShutdown(options: GracefulShutdownOptions): GracefulShutdown {
  let draining = false;
  let result: Promise<DrainOutcome> | undefined;

  return {
    track: (listener) => (req, res) => {
      if (draining) res.setHeader('Connection', 'close');
      listener(req, res);
    },
    draining: () => draining,
    drain(server) {
      if (result) return result;
      draining = true;
      options.logger.info('draining: /readyz answers 503, requests are still served', { delayMs: options.delayMs, timeoutMs: options.timeoutMs });
      result = delay(options.delayMs).then(() => stopAccepting(server, options));
      return result;
    },
  };
}

function stopAccepting(server: HttpServer | HttpsServer, options: GracefulShutdownOptions): Promise<DrainOutcome> {
  const { logger } = options;
  return new Promise((resolve) => {
    let settled = false;
    // An answer that was already being written when draining began did not ask to close its
    // connection: close such connections as soon as they are idle.
    const sweep = setInterval(() => server.closeIdleConnections(), options.idleSweepMs ?? 50);
    const timer = setTimeout(() => {
      settled = true;
      clearInterval(sweep);
      server.closeIdleConnections();
      server.getConnections((_error, cutRequests) => {
        logger.warn('shutdown timeout: cutting the connections still open (--shutdown-timeout)', { cutRequests });
        server.closeAllConnections();
        resolve({ cutRequests });
      });
    }, options.timeoutMs);
    // Asked before `close`: with no connection open, `close` calls back on the next tick, and the
    // count's line must come before the `drained` one.
    server.getConnections((_error, busy) => logger.info('stopped accepting connections; waiting for requests in flight', { busyConnections: busy }));
    server.close(() => {
      clearTimeout(timer);
      clearInterval(sweep);
      if (settled) return;
      logger.info('drained: every request in flight was answered');
      resolve({ cutRequests: 0 });
    });
    server.closeIdleConnections();
  });
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
