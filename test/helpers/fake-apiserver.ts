/**
 * TEST INFRASTRUCTURE — a fake Kubernetes API server for tests only; never used by tierguard.
 *
 * A small HTTPS server on 127.0.0.1 that speaks enough of the Kubernetes REST protocol for
 * tierguard's cluster code: namespaces, networkpolicies, and tierguard.dev tiers and guardrails.
 *
 * - list (`GET` a collection): items plus `metadata.resourceVersion`; `limit`/`continue` pages
 *   from a snapshot; an unknown continue token is `410 Gone`;
 * - watch (`?watch=true&resourceVersion=N`): JSON lines of ADDED/MODIFIED/DELETED events after N,
 *   then live ones; BOOKMARK events on `bookmark()`; a version older than the last `compact()` gets
 *   `410 Gone` as an ERROR event (default, as the real API server does) or as the HTTP status;
 * - `GET` of one object, `PATCH` of `/status` with `application/merge-patch+json`;
 * - `POST` to a collection (`409 AlreadyExists` when the name is taken), `PUT` of an object
 *   (`409 Conflict` when its `metadata.resourceVersion` is stale) and `PATCH` of an object with
 *   `application/json-patch+json` (a failed `test` operation is `422 Invalid`), for secrets and
 *   webhook configurations as much as for the rest;
 * - bearer-token authentication (401 otherwise).
 *
 * Tests drive it with `create`/`update`/`delete`, `compact()`, `dropWatches()`, `bookmark()`,
 * `pauseWatches()`/`resumeWatches()`, `failNext()`, and read `requests` and `statusPatches`. `kubeConfig()` points client-node at it.
 */
import { randomUUID } from 'node:crypto';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { KubeConfig } from '@kubernetes/client-node';
import jsonpatch from 'fast-json-patch';
import { testCertificates, type TestCertificates } from './tls.js';

export type FakeResource = 'secrets' | 'namespaces' | 'networkpolicies' | 'tiers' | 'guardrails' | 'mutatingwebhookconfigurations' | 'validatingwebhookconfigurations';

interface ResourceInfo {
  readonly apiVersion: string;
  readonly kind: string;
  readonly prefix: string;
  readonly namespaced: boolean;
  /** Custom resources: spec changes bump `metadata.generation`, and updates leave status alone. */
  readonly custom: boolean;
}

// Secrets come before namespaces: `/api/v1/namespaces/x/secrets` must not read as namespace x.
const RESOURCES: Readonly<Record<FakeResource, ResourceInfo>> = {
  secrets: { apiVersion: 'v1', kind: 'Secret', prefix: '/api/v1', namespaced: true, custom: false },
  namespaces: { apiVersion: 'v1', kind: 'Namespace', prefix: '/api/v1', namespaced: false, custom: false },
  networkpolicies: { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', prefix: '/apis/networking.k8s.io/v1', namespaced: true, custom: false },
  tiers: { apiVersion: 'tierguard.dev/v1alpha1', kind: 'Tier', prefix: '/apis/tierguard.dev/v1alpha1', namespaced: false, custom: true },
  guardrails: { apiVersion: 'tierguard.dev/v1alpha1', kind: 'Guardrail', prefix: '/apis/tierguard.dev/v1alpha1', namespaced: false, custom: true },
  mutatingwebhookconfigurations: { apiVersion: 'admissionregistration.k8s.io/v1', kind: 'MutatingWebhookConfiguration', prefix: '/apis/admissionregistration.k8s.io/v1', namespaced: false, custom: false },
  validatingwebhookconfigurations: { apiVersion: 'admissionregistration.k8s.io/v1', kind: 'ValidatingWebhookConfiguration', prefix: '/apis/admissionregistration.k8s.io/v1', namespaced: false, custom: false },
};

export type FakeObject = { metadata: { name: string; namespace?: string; [key: string]: unknown }; [key: string]: unknown };

interface Event {
  readonly rv: number;
  readonly resource: FakeResource;
  readonly type: 'ADDED' | 'MODIFIED' | 'DELETED';
  readonly object: FakeObject;
}

interface Watcher {
  readonly resource: FakeResource;
  readonly namespace?: string;
  readonly bookmarks: boolean;
  readonly res: ServerResponse;
}

export interface FakeRequest {
  readonly method: string;
  readonly path: string;
  readonly query: Readonly<Record<string, string>>;
}

export interface StatusPatch {
  readonly resource: FakeResource;
  readonly name: string;
  readonly patch: any;
}

export interface FakeApiServerOptions {
  /** How a too-old resource version is refused: an ERROR event in a 200 stream (default) or HTTP 410. */
  readonly goneAs?: 'event' | 'status';
  /** Reuse certificates across servers (generating them takes a moment). */
  readonly certificates?: TestCertificates;
}

const TOKEN = 'fake-apiserver-token';

export class FakeApiServer {
  readonly requests: FakeRequest[] = [];
  readonly statusPatches: StatusPatch[] = [];
  readonly jsonPatches: { resource: FakeResource; name: string; operations: unknown[] }[] = [];
  goneAs: 'event' | 'status';
  private readonly store = new Map<FakeResource, Map<string, FakeObject>>();
  private readonly log: Event[] = [];
  private readonly watchers = new Set<Watcher>();
  private readonly snapshots = new Map<string, { items: FakeObject[]; rv: number }>();
  private readonly failures: { method: string; pathPrefix: string; status: number; remaining: number }[] = [];
  private readonly held: Event[] = [];
  private paused = false;
  private rv = 1000;
  private compactedRv = 0;
  private server?: https.Server;
  private certs?: TestCertificates;

  constructor(private readonly options: FakeApiServerOptions = {}) {
    this.goneAs = options.goneAs ?? 'event';
    for (const resource of Object.keys(RESOURCES) as FakeResource[]) this.store.set(resource, new Map());
  }

  /** Listens on 127.0.0.1 on a free port. */
  async start(): Promise<this> {
    this.certs = this.options.certificates ?? testCertificates();
    this.server = https.createServer({ cert: this.certs.cert, key: this.certs.key }, (req, res) => this.handle(req, res));
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    return this;
  }

  get url(): string {
    return `https://127.0.0.1:${(this.server?.address() as AddressInfo).port}`;
  }

  get resourceVersion(): number {
    return this.rv;
  }

  /** A KubeConfig for client-node: this server, its CA, a bearer token. */
  kubeConfig(): KubeConfig {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'fake', server: this.url, caData: Buffer.from(this.certs?.caCert ?? '').toString('base64'), skipTLSVerify: false }],
      users: [{ name: 'tester', token: TOKEN }],
      contexts: [{ name: 'fake', cluster: 'fake', user: 'tester' }],
      currentContext: 'fake',
    });
    return kc;
  }

  create(resource: FakeResource, object: FakeObject): FakeObject {
    const key = this.key(resource, object);
    if (this.store.get(resource)?.has(key)) throw new Error(`${resource} ${key} already exists`);
    const stored = clone(object);
    stored.metadata = { ...stored.metadata, uid: randomUUID(), resourceVersion: String(++this.rv), generation: 1, creationTimestamp: new Date().toISOString() };
    if (RESOURCES[resource].namespaced) stored.metadata.namespace ??= 'default';
    return this.commit(resource, 'ADDED', stored);
  }

  /** Replaces an object; custom resources keep their status and bump generation when anything else changed. */
  update(resource: FakeResource, object: FakeObject): FakeObject {
    const existing = this.get(resource, object.metadata.name, object.metadata.namespace);
    if (!existing) throw new Error(`${resource} ${object.metadata.name} does not exist`);
    const stored = clone(object);
    const { custom } = RESOURCES[resource];
    if (custom) stored.status = existing.status;
    const changed = JSON.stringify(withoutMeta(existing)) !== JSON.stringify(withoutMeta(stored));
    const generation = (existing.metadata.generation as number) + (custom && changed ? 1 : 0);
    const { uid, creationTimestamp } = existing.metadata;
    stored.metadata = { ...stored.metadata, uid, creationTimestamp, generation, resourceVersion: String(++this.rv) };
    if (RESOURCES[resource].namespaced) stored.metadata.namespace ??= 'default';
    if (stored.status === undefined) delete stored.status;
    return this.commit(resource, 'MODIFIED', stored);
  }

  delete(resource: FakeResource, name: string, namespace?: string): void {
    const existing = this.get(resource, name, namespace);
    if (!existing) throw new Error(`${resource} ${name} does not exist`);
    this.store.get(resource)?.delete(this.key(resource, existing));
    const gone = clone(existing);
    gone.metadata.resourceVersion = String(++this.rv);
    this.emit({ rv: this.rv, resource, type: 'DELETED', object: gone });
  }

  get(resource: FakeResource, name: string, namespace?: string): FakeObject | undefined {
    return this.store.get(resource)?.get(RESOURCES[resource].namespaced ? `${namespace ?? 'default'}/${name}` : name);
  }

  /** Forgets the event history: watches from older versions get `410 Gone`, as after etcd compaction. */
  compact(): void {
    this.compactedRv = this.rv;
    this.log.length = 0;
    this.snapshots.clear();
  }

  /** Closes every open watch stream (cleanly, or by resetting the connection); returns how many. */
  dropWatches(options: { abrupt?: boolean } = {}): number {
    const count = this.watchers.size;
    for (const watcher of [...this.watchers]) {
      this.watchers.delete(watcher);
      if (options.abrupt) watcher.res.socket?.destroy();
      else watcher.res.end();
    }
    return count;
  }

  /** Sends a BOOKMARK at the current resource version to watches that asked for bookmarks. */
  bookmark(): void {
    for (const watcher of this.watchers) {
      if (!watcher.bookmarks) continue;
      const { apiVersion, kind } = RESOURCES[watcher.resource];
      writeEvent(watcher.res, 'BOOKMARK', { apiVersion, kind, metadata: { resourceVersion: String(this.rv) } });
    }
  }

  /** The next `count` requests whose method matches and path starts with `pathPrefix` get `status`. */
  failNext(options: { method?: string; pathPrefix: string; status: number; count?: number }): void {
    this.failures.push({ method: options.method ?? 'GET', pathPrefix: options.pathPrefix, status: options.status, remaining: options.count ?? 1 });
  }

  /** Forgets failures set up by `failNext` that have not happened yet. */
  clearFailures(): void {
    this.failures.length = 0;
  }

  /** Requests seen, filtered: `count({ method: 'GET', path: '/api/v1/namespaces/x' })`. */
  count(filter: { method?: string; path?: string; watch?: boolean }): number {
    return this.requests.filter((r) => (filter.method === undefined || r.method === filter.method)
      && (filter.path === undefined || r.path === filter.path)
      && (filter.watch === undefined || (r.query.watch === 'true') === filter.watch)).length;
  }

  get openWatches(): number {
    return this.watchers.size;
  }

  async close(): Promise<void> {
    this.dropWatches({ abrupt: true });
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private key(resource: FakeResource, object: FakeObject): string {
    return RESOURCES[resource].namespaced ? `${object.metadata.namespace ?? 'default'}/${object.metadata.name}` : object.metadata.name;
  }

  private commit(resource: FakeResource, type: 'ADDED' | 'MODIFIED', stored: FakeObject): FakeObject {
    this.store.get(resource)?.set(this.key(resource, stored), stored);
    this.emit({ rv: this.rv, resource, type, object: clone(stored) });
    return clone(stored);
  }

  /** Holds back events from open watches (they are still recorded), as a slow watch would. */
  pauseWatches(): void {
    this.paused = true;
  }

  /** Sends the events held back by `pauseWatches`, in order. */
  resumeWatches(): void {
    this.paused = false;
    for (const event of this.held.splice(0)) this.send(event);
  }

  private emit(event: Event): void {
    this.log.push(event);
    if (this.paused) this.held.push(event);
    else this.send(event);
  }

  private send(event: Event): void {
    for (const watcher of this.watchers) {
      if (matches(watcher, event)) writeEvent(watcher.res, event.type, withType(event.resource, event.object));
    }
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'https://fake');
    const query = Object.fromEntries(url.searchParams);
    const method = req.method ?? 'GET';
    this.requests.push({ method, path: url.pathname, query });
    if (req.headers.authorization !== `Bearer ${TOKEN}`) return sendStatus(res, 401, 'Unauthorized', 'no valid bearer token');
    const failure = this.failures.find((f) => f.remaining > 0 && f.method === method && url.pathname.startsWith(f.pathPrefix));
    if (failure) {
      failure.remaining -= 1;
      return sendStatus(res, failure.status, 'InternalError', 'injected failure');
    }
    const route = parseRoute(url.pathname);
    if (!route) return sendStatus(res, 404, 'NotFound', `no route for ${url.pathname}`);
    if (method === 'GET' && route.name === undefined) return query.watch === 'true' ? this.watch(route, query, res) : this.list(route, query, res);
    if (method === 'GET' && route.name !== undefined && !route.subresource) return this.getOne(route, res);
    const write = this.writer(method, route);
    if (write) {
      readBody(req).then((body) => write.call(this, route, req.headers['content-type'], body, res), () => sendStatus(res, 400, 'BadRequest', 'unreadable body'));
      return;
    }
    sendStatus(res, 405, 'MethodNotAllowed', `${method} ${url.pathname} is not supported here`);
  }

  /** The handler of a request with a body: status patch, create, replace or JSON patch. */
  private writer(method: string, route: Route): ((route: Route, contentType: string | undefined, body: string, res: ServerResponse) => void) | undefined {
    const one = route.name !== undefined;
    if (method === 'PATCH' && one && route.subresource === 'status') return this.patchStatus;
    if (method === 'POST' && !one) return this.postObject;
    if (method === 'PUT' && one && !route.subresource) return this.putObject;
    if (method === 'PATCH' && one && !route.subresource) return this.jsonPatchObject;
    return undefined;
  }

  private list(route: Route, query: Record<string, string>, res: ServerResponse): void {
    let snapshot: { items: FakeObject[]; rv: number };
    let offset = 0;
    if (query.continue) {
      const [id, start] = query.continue.split(':');
      const found = this.snapshots.get(id ?? '');
      if (!found) return sendStatus(res, 410, 'Expired', 'the continue token has expired');
      snapshot = found;
      offset = Number(start);
    } else {
      const items = [...(this.store.get(route.resource)?.values() ?? [])]
        .filter((object) => route.namespace === undefined || object.metadata.namespace === route.namespace)
        .sort((a, b) => (this.key(route.resource, a) < this.key(route.resource, b) ? -1 : 1));
      snapshot = { items: items.map((object) => listItem(route.resource, object)), rv: this.rv };
    }
    const limit = Number(query.limit) > 0 ? Number(query.limit) : snapshot.items.length;
    const items = snapshot.items.slice(offset, offset + limit);
    let token: string | undefined;
    const id = query.continue?.split(':')[0] ?? randomUUID();
    if (offset + limit < snapshot.items.length) {
      this.snapshots.set(id, snapshot);
      token = `${id}:${offset + limit}`;
    } else {
      this.snapshots.delete(id);
    }
    const { apiVersion, kind } = RESOURCES[route.resource];
    sendJson(res, 200, { apiVersion, kind: `${kind}List`, metadata: { resourceVersion: String(snapshot.rv), ...(token ? { continue: token } : {}) }, items });
  }

  private watch(route: Route, query: Record<string, string>, res: ServerResponse): void {
    const from = query.resourceVersion ? Number(query.resourceVersion) : undefined;
    if (from !== undefined && from < this.compactedRv) {
      const message = `too old resource version: ${from} (${this.compactedRv})`;
      if (this.goneAs === 'status') return sendStatus(res, 410, 'Expired', message);
      res.writeHead(200, { 'Content-Type': 'application/json' });
      writeEvent(res, 'ERROR', { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason: 'Expired', code: 410 });
      res.end();
      return;
    }
    res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
    res.flushHeaders();
    const watcher: Watcher = { resource: route.resource, ...(route.namespace ? { namespace: route.namespace } : {}), bookmarks: query.allowWatchBookmarks === 'true', res };
    if (from === undefined) {
      for (const object of this.store.get(route.resource)?.values() ?? []) writeEvent(res, 'ADDED', withType(route.resource, object));
    } else {
      for (const event of this.log) if (event.rv > from && matches(watcher, event)) writeEvent(res, event.type, withType(event.resource, event.object));
    }
    this.watchers.add(watcher);
    const timeout = Number(query.timeoutSeconds) > 0 ? setTimeout(() => { this.watchers.delete(watcher); res.end(); }, Number(query.timeoutSeconds) * 1000) : undefined;
    timeout?.unref();
    res.on('close', () => { clearTimeout(timeout); this.watchers.delete(watcher); });
  }

  private getOne(route: Route, res: ServerResponse): void {
    const object = this.get(route.resource, route.name ?? '', route.namespace);
    if (!object) return sendStatus(res, 404, 'NotFound', `${route.resource} "${route.name}" not found`);
    sendJson(res, 200, withType(route.resource, object));
  }

  private postObject(route: Route, _contentType: string | undefined, body: string, res: ServerResponse): void {
    const object = parseJson(body) as FakeObject | undefined;
    if (!object?.metadata?.name) return sendStatus(res, 400, 'BadRequest', 'the body is not an object with metadata.name');
    if (route.namespace) object.metadata.namespace = route.namespace;
    if (this.get(route.resource, object.metadata.name, route.namespace)) {
      return sendStatus(res, 409, 'AlreadyExists', `${route.resource} "${object.metadata.name}" already exists`);
    }
    sendJson(res, 201, withType(route.resource, this.create(route.resource, object)));
  }

  private putObject(route: Route, _contentType: string | undefined, body: string, res: ServerResponse): void {
    const object = parseJson(body) as FakeObject | undefined;
    if (!object || object.metadata?.name !== route.name) return sendStatus(res, 400, 'BadRequest', 'metadata.name does not match the URL');
    const existing = this.get(route.resource, route.name ?? '', route.namespace);
    if (!existing) return sendStatus(res, 404, 'NotFound', `${route.resource} "${route.name}" not found`);
    if (object.metadata.resourceVersion !== existing.metadata.resourceVersion) {
      return sendStatus(res, 409, 'Conflict', `Operation cannot be fulfilled on ${route.resource} "${route.name}": the object has been modified; please apply your changes to the latest version and try again`);
    }
    if (route.namespace) object.metadata.namespace = route.namespace;
    sendJson(res, 200, withType(route.resource, this.update(route.resource, object)));
  }

  private jsonPatchObject(route: Route, contentType: string | undefined, body: string, res: ServerResponse): void {
    if (contentType !== 'application/json-patch+json') return sendStatus(res, 415, 'UnsupportedMediaType', `content type ${contentType} is not supported`);
    const existing = this.get(route.resource, route.name ?? '', route.namespace);
    if (!existing) return sendStatus(res, 404, 'NotFound', `${route.resource} "${route.name}" not found`);
    const operations = parseJson(body);
    if (!Array.isArray(operations)) return sendStatus(res, 400, 'BadRequest', 'the patch is not a JSON array');
    let patched: FakeObject;
    try {
      patched = jsonpatch.applyPatch(withType(route.resource, existing), operations as jsonpatch.Operation[], true, false).newDocument;
    } catch (error) {
      return sendStatus(res, 422, 'Invalid', `the patch cannot be applied: ${(error as Error).message.split('\n')[0]}`);
    }
    this.jsonPatches.push({ resource: route.resource, name: existing.metadata.name, operations });
    const { apiVersion: _apiVersion, kind: _kind, ...object } = patched;
    object.metadata = { ...object.metadata, resourceVersion: existing.metadata.resourceVersion };
    sendJson(res, 200, withType(route.resource, this.update(route.resource, object as FakeObject)));
  }

  private patchStatus(route: Route, contentType: string | undefined, body: string, res: ServerResponse): void {
    if (contentType !== 'application/merge-patch+json') return sendStatus(res, 415, 'UnsupportedMediaType', `content type ${contentType} is not supported`);
    const existing = this.get(route.resource, route.name ?? '', route.namespace);
    if (!existing) return sendStatus(res, 404, 'NotFound', `${route.resource} "${route.name}" not found`);
    let patch: any;
    try {
      patch = JSON.parse(body);
    } catch {
      return sendStatus(res, 400, 'BadRequest', 'the patch is not JSON');
    }
    this.statusPatches.push({ resource: route.resource, name: existing.metadata.name, patch });
    const stored = clone(existing);
    stored.status = mergePatch(stored.status, patch?.status);
    stored.metadata.resourceVersion = String(++this.rv);
    sendJson(res, 200, withType(route.resource, this.commit(route.resource, 'MODIFIED', stored)));
  }
}

/** A started fake API server. */
export async function startFakeApiServer(options: FakeApiServerOptions = {}): Promise<FakeApiServer> {
  return new FakeApiServer(options).start();
}

interface Route {
  readonly resource: FakeResource;
  readonly namespace?: string;
  readonly name?: string;
  readonly subresource?: string;
}

function parseRoute(pathname: string): Route | undefined {
  for (const [resource, info] of Object.entries(RESOURCES) as [FakeResource, ResourceInfo][]) {
    if (!pathname.startsWith(`${info.prefix}/`)) continue;
    const parts = pathname.slice(info.prefix.length + 1).split('/').map(decodeURIComponent);
    let namespace: string | undefined;
    if (info.namespaced && parts[0] === 'namespaces' && parts[2] === resource) {
      namespace = parts[1];
      parts.splice(0, 2);
    }
    if (parts[0] !== resource || parts.length > 3) continue;
    return { resource, ...(namespace ? { namespace } : {}), ...(parts[1] ? { name: parts[1] } : {}), ...(parts[2] ? { subresource: parts[2] } : {}) };
  }
  return undefined;
}

function matches(watcher: Watcher, event: Event): boolean {
  return watcher.resource === event.resource && (watcher.namespace === undefined || watcher.namespace === event.object.metadata.namespace);
}

/** Items of built-in lists carry no apiVersion/kind (typed lists); custom resources do. */
function listItem(resource: FakeResource, object: FakeObject): FakeObject {
  return RESOURCES[resource].custom ? withType(resource, object) : clone(object);
}

function withType(resource: FakeResource, object: FakeObject): FakeObject {
  const { apiVersion, kind } = RESOURCES[resource];
  return { apiVersion, kind, ...clone(object) };
}

function withoutMeta(object: FakeObject): unknown {
  const { metadata: _metadata, status: _status, ...rest } = object;
  return rest;
}

/** RFC 7386: objects merge key by key, null deletes, anything else replaces. */
function mergePatch(target: unknown, patch: unknown): unknown {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) return patch;
  const out: Record<string, unknown> = typeof target === 'object' && target !== null && !Array.isArray(target) ? { ...(target as Record<string, unknown>) } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key];
    else out[key] = mergePatch(out[key], value);
  }
  return out;
}

function writeEvent(res: ServerResponse, type: string, object: unknown): void {
  res.write(`${JSON.stringify({ type, object })}\n`);
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify(body));
}

function sendStatus(res: ServerResponse, code: number, reason: string, message: string): void {
  sendJson(res, code, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code });
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function clone<T>(value: T): T {
  return structuredClone(value);
}
