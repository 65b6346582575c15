/**
 * `tierguard serve`: composes policy loading, the admission handler, TLS and metrics into a
 * running webhook. Everything it needs arrives in its options; it reads no environment itself.
 */
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { createAdmissionHandler } from '../admission/handler.js';
import { boundedRunner } from '../review/bounded.js';
import { createGracefulShutdown, type DrainOutcome } from '../admission/drain.js';
import { createWebhookListener } from '../admission/server.js';
import type { ServeOptions } from '../config/options.js';
import { loadKubeConfig } from '../cluster/kube-config.js';
import { startLeaderDuties, type LeaderDuties } from '../cluster/leader-duties.js';
import { startPolicyRuntime } from '../cluster/policy-runtime.js';
import { DEFAULT_POLICY_DIR } from '../policy/load.js';
import { formatProblem, type PolicyProblem } from '../policy/problems.js';
import type { Logger } from '../telemetry/logger.js';
import { createMetrics, type Metrics } from '../telemetry/metrics.js';
import { servingTls, type ServingTls } from './serve-tls.js';

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
  const kubeConfig = await loadKubeConfig({ kubeconfig: options.kubeconfig, inCluster: options.inCluster });
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

  const engine = {
    excludedNamespaces: new Set([...options.excludeNamespaces, options.namespace]),
    runBounded: boundedRunner(options.celTimeoutMs),
    networkCheckBudget: { timeoutMs: options.networkCheckTimeoutMs, now: () => performance.now() },
    maxObjectValues: options.maxObjectValues,
    maxValidations: options.maxValidations,
    admins: { groups: new Set(options.adminGroups), users: new Set(options.adminUsers) },
  };
  const handler = createAdmissionHandler({
    policy: runtime.policy,
    policyDocuments: runtime.currentPolicyDocuments,
    namespaces: runtime.namespaces,
    engine,
    failureMode: options.failureMode,
    metrics,
    logger,
  });
  // In a cluster, one replica (the Lease holder) audits what exists and writes reports and status.
  const duties: LeaderDuties | undefined = runtime.client
    ? startLeaderDuties({
      client: runtime.client,
      logger,
      metrics,
      runtime,
      engine,
      namespace: options.namespace,
      leaseName: options.leaseName,
      leaseDurationMs: options.leaseDurationMs,
      auditIntervalMs: options.auditIntervalMs,
      reports: options.reports,
    })
    : undefined;
  const stopRuntime = async (): Promise<void> => {
    await duties?.stop();
    await runtime.stop();
  };
  const shutdown = createGracefulShutdown({ delayMs: options.shutdownDelayMs, timeoutMs: options.shutdownTimeoutMs, logger });
  // Not ready before the self-managed certificate is in place (`tls` is set before listening).
  const ready = () => !shutdown.draining() && runtime.ready() && tls.ready();
  const listener = createWebhookListener({ handler, ready, maxBodyBytes: options.maxBodyBytes, metrics, logger });

  let tls: ServingTls;
  try {
    tls = await servingTls(options, { kubeConfig, logger, metrics });
  } catch (error) {
    await stopRuntime();
    throw error;
  }
  const server = https.createServer(tls.serverOptions, shutdown.track(listener));
  // Longer than the API server keeps an idle webhook connection (Go's default transport, 90 s;
  // kubernetes#82090), so the API server is always the one to close it: a call after a quiet spell
  // reuses its connection instead of paying a new TLS handshake (at 65 s, calls 75 s apart each
  // made one, issue 11), and outside a drain no call is sent on a connection tierguard is closing.
  server.keepAliveTimeout = 100_000;
  server.headersTimeout = 15_000;
  server.requestTimeout = 30_000;
  const stopWatching = tls.follow(server);

  const metricsServer = http.createServer((req, res) => {
    if (req.method === 'GET' && req.url?.split('?')[0] === '/metrics') {
      metrics.registry.metrics().then(
        (text) => { res.writeHead(200, { 'Content-Type': metrics.registry.contentType }); res.end(text); },
        (error: Error) => { res.writeHead(500, { 'Content-Type': 'text/plain' }); res.end(error.message); },
      );
      return;
    }
    // The probes, here too: with --client-ca the webhook port refuses the kubelet, which has no client certificate.
    if (req.method === 'GET' && (req.url === '/healthz' || req.url === '/readyz')) {
      const up = req.url === '/healthz' || ready();
      res.writeHead(up ? 200 : 503, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ status: req.url === '/healthz' ? 'ok' : up ? 'ready' : 'not ready' }));
      return;
    }
    res.writeHead(404, { 'Content-Type': 'text/plain' });
    res.end('not found\n');
  });

  try {
    await listen(metricsServer, options.metricsPort, options.metricsAddress);
    // The webhook port accepts no connection before a policy set is in force: a request answered
    // without one could only be refused. The probes on the metrics port say why meanwhile.
    if (!runtime.policy()) {
      logger.info('waiting for a policy set before accepting webhook connections', { metricsPort: (metricsServer.address() as AddressInfo).port });
      await runtime.source.firstSet;
    }
    await listen(server, options.port, options.address);
  } catch (error) {
    server.close();
    metricsServer.close();
    stopWatching();
    await stopRuntime();
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
      // The Lease goes first: another replica takes the audit over while this one drains.
      const released = duties?.stop();
      const outcome = await shutdown.drain(server);
      stopWatching();
      await released;
      await stopRuntime();
      metricsServer.closeAllConnections();
      await closeServer(metricsServer);
      return outcome;
    },
    close: async () => {
      stopWatching();
      await stopRuntime();
      server.closeIdleConnections();
      await Promise.all([closeServer(server), closeServer(metricsServer)]);
    },
  };
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
