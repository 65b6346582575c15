/**
 * `tierguard serve`: composes policy loading, the admission handler, TLS and metrics into a
 * running webhook. Everything it needs arrives in its options; it reads no environment itself.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createAdmissionHandler } from '../admission/handler.js';
import { boundedRunner } from '../admission/bounded.js';
import { createGracefulShutdown, type DrainOutcome } from '../admission/drain.js';
import { createWebhookListener } from '../admission/server.js';
import type { ServeOptions } from '../config/options.js';
import { loadKubeConfig } from '../cluster/kube-config.js';
import { startPolicyRuntime } from '../cluster/policy-runtime.js';
import { DEFAULT_POLICY_DIR } from '../policy/load.js';
import { formatProblem, type PolicyProblem } from '../policy/problems.js';
import { certificateExpiry, generateCertificates } from '../tls/certs.js';
import { readCertificatePair, watchCertificates } from '../tls/reloader.js';
import type { Logger } from '../telemetry/logger.js';
import { createMetrics, type Metrics } from '../telemetry/metrics.js';

/** The policy set did not compile: nothing is served. */
export class PolicySetError extends Error {
  constructor(readonly problems: readonly PolicyProblem[]) {
    super(`the policy set has ${problems.length} problem${problems.length === 1 ? '' : 's'}:\n${problems.map(formatProblem).join('\n')}`);
    this.name = 'PolicySetError';
  }
}

export interface RunningServer {
  /** The bound webhook (HTTPS) port; useful with `--port 0`. */
  readonly port: number;
  readonly metricsPort: number;
  /** PEM of the CA that signed the serving certificate, when tierguard generated it. */
  readonly generatedCa?: string;
  readonly caPath?: string;
  readonly metrics: Metrics;
  /**
   * The graceful stop for SIGTERM: `/readyz` answers 503 at once while requests are still served
   * for `shutdownDelayMs`, then the listener closes and requests in flight get up to
   * `shutdownTimeoutMs` (see `admission/drain.ts`); then everything else stops.
   */
  drain(): Promise<DrainOutcome>;
  /** Stops without the drain delay: closes the listeners and idle connections, waits for the rest. */
  close(): Promise<void>;
}

export async function startServer(options: ServeOptions, logger: Logger): Promise<RunningServer> {
  const metrics = createMetrics({ processMetrics: true });
  const kubeConfig = loadKubeConfig({ kubeconfig: options.kubeconfig, inCluster: options.inCluster });
  const configPaths = options.config.length > 0 ? options.config : kubeConfig ? [] : [DEFAULT_POLICY_DIR];
  const runtime = startPolicyRuntime({ configPaths, kubeConfig, metrics, logger, pollIntervalMs: options.configPollIntervalMs });
  if (!kubeConfig) {
    // Standalone, a policy set that does not compile stops serve before it listens. In a cluster,
    // serve listens at once and /readyz reports when every watch has synced and a set compiled.
    const first = await runtime.firstCompile;
    if (!first.set) {
      await runtime.stop();
      throw new PolicySetError(first.problems);
    }
  }

  const handler = createAdmissionHandler({
    policy: runtime.policy,
    policyDocuments: runtime.policyDocuments,
    namespaces: runtime.namespaces,
    engine: {
      excludedNamespaces: new Set([...options.excludeNamespaces, options.namespace]),
      runBounded: boundedRunner(options.celTimeoutMs),
      maxObjectValues: options.maxObjectValues,
      maxValidations: options.maxValidations,
      admins: { groups: new Set(options.adminGroups), users: new Set(options.adminUsers) },
    },
    failureMode: options.failureMode,
    metrics,
    logger,
  });
  const shutdown = createGracefulShutdown({ delayMs: options.shutdownDelayMs, timeoutMs: options.shutdownTimeoutMs, logger });
  const ready = () => !shutdown.draining() && runtime.ready();
  const listener = createWebhookListener({ handler, ready, maxBodyBytes: options.maxBodyBytes, metrics, logger });

  let tls: ServingCertificate;
  try {
    tls = await serverCertificate(options, logger);
  } catch (error) {
    await runtime.stop();
    throw error;
  }
  metrics.certificateExpiry.set(certificateExpiry(tls.cert).getTime() / 1000);
  const server = https.createServer({ cert: tls.cert, key: tls.key, minVersion: 'TLSv1.2' }, shutdown.track(listener));
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 15_000;
  server.requestTimeout = 30_000;
  const stopWatching = options.tlsCert && options.tlsKey
    ? watchCertificates({
      certFile: options.tlsCert,
      keyFile: options.tlsKey,
      intervalMs: options.certReloadIntervalMs,
      logger,
      apply: (pair) => {
        server.setSecureContext({ cert: pair.cert, key: pair.key, minVersion: 'TLSv1.2' });
        metrics.certificateExpiry.set(certificateExpiry(pair.cert).getTime() / 1000);
      },
    }, tls)
    : () => {};

  const metricsServer = http.createServer((req, res) => {
    if (req.method === 'GET' && req.url?.split('?')[0] === '/metrics') {
      metrics.registry.metrics().then(
        (text) => { res.writeHead(200, { 'Content-Type': metrics.registry.contentType }); res.end(text); },
        (error: Error) => { res.writeHead(500, { 'Content-Type': 'text/plain' }); res.end(error.message); },
      );
      return;
    }
    res.writeHead(404, { 'Content-Type': 'text/plain' });
    res.end('not found\n');
  });

  try {
    await listen(server, options.port, options.address);
    await listen(metricsServer, options.metricsPort, options.metricsAddress);
  } catch (error) {
    server.close();
    stopWatching();
    await runtime.stop();
    throw error;
  }
  const port = (server.address() as AddressInfo).port;
  const metricsPort = (metricsServer.address() as AddressInfo).port;
  logger.info('tierguard serving', { address: options.address, port, metricsAddress: options.metricsAddress, metricsPort, failureMode: options.failureMode });
  return {
    port,
    metricsPort,
    metrics,
    ...(tls.generatedCa ? { generatedCa: tls.generatedCa, caPath: tls.caPath } : {}),
    drain: async () => {
      const outcome = await shutdown.drain(server);
      stopWatching();
      await runtime.stop();
      metricsServer.closeAllConnections();
      await closeServer(metricsServer);
      return outcome;
    },
    close: async () => {
      stopWatching();
      await runtime.stop();
      server.closeIdleConnections();
      await Promise.all([closeServer(server), closeServer(metricsServer)]);
    },
  };
}

interface ServingCertificate {
  readonly cert: string;
  readonly key: string;
  readonly generatedCa?: string;
  readonly caPath?: string;
}

/** The configured certificate pair, or a fresh CA and certificate for localhost kept in memory. */
async function serverCertificate(options: ServeOptions, logger: Logger): Promise<ServingCertificate> {
  if (options.tlsCert && options.tlsKey) {
    try {
      return await readCertificatePair({ certFile: options.tlsCert, keyFile: options.tlsKey });
    } catch (error) {
      throw new Error(`cannot use --tls-cert ${options.tlsCert} and --tls-key ${options.tlsKey}: ${(error as Error).message}`, { cause: error });
    }
  }
  const bundle = generateCertificates({ dnsNames: ['localhost'], ipAddresses: ['127.0.0.1', '::1'], days: 30 });
  const caPath = options.caOut ?? path.join(os.tmpdir(), 'tierguard', 'ca.crt');
  await mkdir(path.dirname(caPath), { recursive: true });
  await writeFile(caPath, bundle.caCert);
  logger.info('no --tls-cert given: generated a self-signed CA and a serving certificate for localhost in memory', { caBundle: caPath });
  return { cert: bundle.cert, key: bundle.key, generatedCa: bundle.caCert, caPath };
}

function listen(server: http.Server | https.Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

function closeServer(server: http.Server | https.Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}
