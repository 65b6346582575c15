/**
 * What the bench drivers in this folder share (they are not tests): a timed HTTPS client for the
 * test cluster's API server, percentiles, the load average that goes with every figure, and the
 * end of a driver (one JSON line on stdout, the cluster stopped, a failure on stderr).
 */
import { readFileSync } from 'node:fs';
import https from 'node:https';
import type { TestCluster } from '../helpers/kube-cluster.js';

export interface TimedResponse {
  readonly status: number;
  /** From the request's start to the response's last byte, in ms. */
  readonly ms: number;
  readonly text: string;
}

export type ApiRequest = (method: string, requestPath: string, body?: string, contentType?: string) => Promise<TimedResponse>;

/** Requests as the cluster admin on keep-alive connections (at most `maxSockets` of them). */
export function apiClient(cluster: TestCluster, { maxSockets = 1 } = {}): ApiRequest {
  const agent = new https.Agent({ keepAlive: true, maxSockets, ca: readFileSync(cluster.caFile) });
  const url = new URL(cluster.server);
  return (method, requestPath, body, contentType = 'application/json') => new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const req = https.request({
      host: url.hostname, port: url.port, method, path: requestPath, agent,
      headers: { 'Content-Type': contentType, Authorization: `Bearer ${cluster.token.admin}`, ...(body === undefined ? {} : { 'Content-Length': Buffer.byteLength(body) }) },
    }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => { text += chunk; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, ms: Number(process.hrtime.bigint() - started) / 1e6, text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

export const percentile = (sorted: readonly number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
export const round = (value: number) => Math.round(value * 100) / 100;

/** The 1, 5 and 15 minute load averages, or `n/a`: the figures mean little without them. */
export function loadAverage(): string {
  try {
    return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  } catch {
    return 'n/a';
  }
}

/** Runs a driver's `main`: its result as one JSON line on stdout; a failure on stderr, exit code 1. */
export function runDriver(main: () => Promise<unknown>): void {
  main().then((result) => {
    process.stdout.write(`${JSON.stringify(result)}\n`);
  }, (error: Error) => {
    process.stderr.write(`${error.stack ?? error.message}\n`);
    process.exitCode = 1;
  });
}
