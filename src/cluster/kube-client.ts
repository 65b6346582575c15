/**
 * The few Kubernetes API calls tierguard makes: GET as JSON (lists and single objects), a JSON
 * merge patch (status subresources), create and replace (its certificate Secret, policy reports),
 * delete (policy reports no longer needed), a JSON patch (the caBundle of its webhook
 * configurations) and watch streams.
 *
 * Authentication and TLS come from client-node's `KubeConfig` (in-cluster service account,
 * `--kubeconfig` with tokens, client certificates or exec plugins) through
 * `applyToHTTPSOptions`. Plain calls go through `node:https` rather than the generated API
 * classes, which turn objects into typed models (dropping fields they do not know) and put the
 * whole response, headers included, into their error messages. Watch streams use client-node's
 * `Watch` as it is: it applies the same `KubeConfig` and parses the JSON-lines stream.
 */
import http from 'node:http';
import https from 'node:https';
import type { KubeConfig, Watch } from './client-node.js';

/** A failed API call; `statusCode` is the HTTP status (0 when no answer arrived). */
export class KubeApiError extends Error {
  constructor(message: string, readonly statusCode: number, readonly reason?: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'KubeApiError';
  }
}

/** One open watch stream; `abort` closes it and is safe to call twice. */
export interface WatchConnection {
  abort(): void;
}

export interface WatchRequest {
  /** Collection path, e.g. `/api/v1/namespaces`. */
  readonly path: string;
  readonly query: Readonly<Record<string, string | number | boolean>>;
  /** One decoded event line: `ADDED`, `MODIFIED`, `DELETED`, `BOOKMARK` or `ERROR`. */
  readonly onEvent: (type: string, object: unknown) => void;
  /** The stream ended: `error` is undefined when the server closed it normally. */
  readonly onDone: (error?: unknown) => void;
}

export interface KubeClient {
  /** GET `path` and parse the JSON body; non-2xx answers reject with a {@link KubeApiError}. */
  get(path: string, options?: { query?: Readonly<Record<string, string | number>>; signal?: AbortSignal }): Promise<unknown>;
  /** PATCH with `application/merge-patch+json` (RFC 7386). */
  mergePatch(path: string, body: unknown): Promise<unknown>;
  /** PATCH with `application/json-patch+json` (RFC 6902); a failed `test` operation is a 422. */
  jsonPatch(path: string, operations: readonly unknown[]): Promise<unknown>;
  /** POST `body` to the collection `path`; an existing object is a 409 {@link KubeApiError}. */
  create(path: string, body: unknown): Promise<unknown>;
  /** PUT `body` at `path`; a stale `metadata.resourceVersion` is a 409 {@link KubeApiError}. */
  replace(path: string, body: unknown): Promise<unknown>;
  /** DELETE the object at `path`; one that does not exist is a 404 {@link KubeApiError}. */
  delete(path: string): Promise<unknown>;
  watch(request: WatchRequest): Promise<WatchConnection>;
}

export interface KubeClientOptions {
  readonly kubeConfig: KubeConfig;
  /** Bound on one GET or PATCH, in milliseconds (default 30 s); watches are bounded by the watch itself. */
  readonly requestTimeoutMs?: number;
}

/** A {@link KubeClient} for the current context of `kubeConfig`. */
export function createKubeClient(options: KubeClientOptions): KubeClient {
  const { kubeConfig } = options;
  const timeoutMs = options.requestTimeoutMs ?? 30_000;
  // client-node is loaded with the KubeConfig (cluster/kube-config.ts), never by a standalone server.
  let watcher: Watch | undefined;
  const agents = keepAliveAgents(kubeConfig);
  const call = (method: string, path: string, extra: { query?: Readonly<Record<string, string | number>>; signal?: AbortSignal; body?: unknown; contentType?: string }): Promise<unknown> =>
    sendJson({ kubeConfig, agents, method, path, timeoutMs, ...extra });
  return {
    get: (path, opts = {}) => call('GET', path, opts),
    mergePatch: (path, body) => call('PATCH', path, { body, contentType: 'application/merge-patch+json' }),
    jsonPatch: (path, operations) => call('PATCH', path, { body: operations, contentType: 'application/json-patch+json' }),
    create: (path, body) => call('POST', path, { body, contentType: 'application/json' }),
    replace: (path, body) => call('PUT', path, { body, contentType: 'application/json' }),
    delete: (path) => call('DELETE', path, {}),
    watch: async (request) => {
      watcher ??= new (await import('./client-node.js')).Watch(kubeConfig);
      const controller = await watcher.watch(request.path, { ...request.query }, (type, object) => request.onEvent(type, object), (error: unknown) => request.onDone(error ?? undefined));
      return { abort: () => controller.abort() };
    },
  };
}

/**
 * One keep-alive agent per TLS identity. `applyToHTTPSOptions` makes a new agent for every call,
 * which costs a TCP and TLS handshake per call (on a Tier or Guardrail admission, two LISTs);
 * calls now share connections. A new CA or client certificate (a rotated kubeconfig) gets a new
 * agent; a proxy agent (`proxy-url`) is used as client-node makes it.
 */
function keepAliveAgents(kubeConfig: KubeConfig): (options: https.RequestOptions) => void {
  let current: { key: string; agent: https.Agent } | undefined;
  return (options) => {
    if (kubeConfig.getCurrentCluster()?.proxyUrl || !(options.agent instanceof https.Agent)) return;
    const tls = { ca: options.ca, cert: options.cert, key: options.key, pfx: options.pfx, passphrase: options.passphrase, servername: options.servername, rejectUnauthorized: options.rejectUnauthorized };
    const key = JSON.stringify(Object.values(tls).map((value) => (Buffer.isBuffer(value) ? value.toString('base64') : value ?? null)));
    if (current?.key !== key) {
      current?.agent.destroy();
      current = { key, agent: new https.Agent({ keepAlive: true, ...definedOnly(tls) }) };
    }
    options.agent = current.agent;
  };
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, entry]) => entry !== undefined)) as Partial<T>;
}

interface SendOptions {
  readonly kubeConfig: KubeConfig;
  readonly agents: (options: https.RequestOptions) => void;
  readonly method: string;
  readonly path: string;
  readonly timeoutMs: number;
  readonly query?: Readonly<Record<string, string | number>>;
  readonly signal?: AbortSignal;
  readonly body?: unknown;
  readonly contentType?: string;
}

async function sendJson(options: SendOptions): Promise<unknown> {
  const server = options.kubeConfig.getCurrentCluster()?.server;
  if (!server) throw new KubeApiError('the kubeconfig has no current cluster', 0);
  const url = new URL(server.replace(/\/$/, '') + options.path);
  for (const [key, value] of Object.entries(options.query ?? {})) url.searchParams.set(key, String(value));
  const body = options.body === undefined ? undefined : JSON.stringify(options.body);
  const requestOptions: https.RequestOptions = {
    method: options.method,
    headers: { Accept: 'application/json', ...(body !== undefined ? { 'Content-Type': options.contentType ?? 'application/json' } : {}) },
    timeout: options.timeoutMs,
    ...(options.signal ? { signal: options.signal } : {}),
  };
  await options.kubeConfig.applyToHTTPSOptions(requestOptions);
  options.agents(requestOptions);
  const where = `${options.method} ${options.path}`;
  // Aborted while the credentials were read: nothing is sent (a kept-alive socket would send at once).
  if (options.signal?.aborted) throw new KubeApiError(`${where}: aborted`, 0, undefined, { cause: options.signal.reason });
  return new Promise((resolve, reject) => {
    const send = url.protocol === 'https:' ? https.request : http.request;
    const req = send(url, requestOptions, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', (error) => reject(new KubeApiError(`${where}: ${error.message}`, 0, undefined, { cause: error })));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        const status = res.statusCode ?? 0;
        try {
          if (status >= 200 && status < 300) resolve(JSON.parse(text));
          else reject(statusError(where, status, text));
        } catch (error) {
          reject(new KubeApiError(`${where}: the answer is not JSON`, status, undefined, { cause: error }));
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${options.timeoutMs} ms`)));
    req.on('error', (error) => reject(new KubeApiError(`${where}: ${error.message}`, 0, undefined, { cause: error })));
    req.end(body);
  });
}

/** The API server's Status object as an error: `GET /x: 404 NotFound: namespaces "x" not found`. */
function statusError(where: string, status: number, text: string): KubeApiError {
  let reason: string | undefined;
  let message = text.slice(0, 300);
  try {
    const parsed = JSON.parse(text) as { reason?: unknown; message?: unknown };
    if (typeof parsed.reason === 'string') reason = parsed.reason;
    if (typeof parsed.message === 'string') message = parsed.message;
  } catch {
    // Not a Status object (a proxy's error page, say): keep the start of the text.
  }
  return new KubeApiError(`${where}: ${status}${reason ? ` ${reason}` : ''}: ${message}`, status, reason);
}
