/**
 * Self-managed certificates in the cluster: the CA and serving certificate live in one Secret in
 * tierguard's namespace, shared by every replica; each replica checks it now and then, carries out
 * whatever rotation step is due (see `tls/rotation.ts`), keeps the `caBundle` of its webhook
 * configurations in step with the Secret, and serves the Secret's certificate.
 *
 * Replicas never coordinate other than through the API server's optimistic concurrency: the
 * Secret is created with POST (a replica that loses the race gets 409 and uses the winner's) and
 * replaced with PUT carrying the resourceVersion it read (a stale write gets 409, and the replica
 * starts over from what is stored). The webhook configurations are changed with a JSON patch that
 * tests their resourceVersion first and touches only `caBundle`, so a concurrent `helm upgrade`
 * is never overwritten.
 *
 * In one pass the order is: Secret written, then caBundle patched, then the serving certificate
 * applied, so this replica never presents a certificate the API server was not given the CA of.
 *
 * Ready means the Secret's certificate is served and every named configuration exists and trusts
 * it. The configurations are watched (by name, so RBAC `resourceNames` can allow it): when
 * something overwrites a `caBundle` — a `helm upgrade`, an Argo CD sync of a rendered chart whose
 * `lookup` came back empty — this replica is unready at once and publishes the bundle again.
 */
import type { KeyPair } from '../tls/certs.js';
import { planCertificates, splitPem, type RotationPolicy, type StoredCertificates } from '../tls/rotation.js';
import type { Logger } from '../telemetry/logger.js';
import { createBackoff, type BackoffOptions } from './backoff.js';
import { KubeApiError, type KubeClient } from './kube-client.js';
import { startResilientWatch, type ResilientWatch, type WatchChange } from './resilient-watch.js';

export interface SelfManagedCertificatesOptions {
  readonly client: KubeClient;
  readonly namespace: string;
  readonly secretName: string;
  /** Names of the Mutating- and ValidatingWebhookConfigurations whose caBundle tierguard keeps. */
  readonly webhookConfigurations: readonly string[];
  readonly policy: RotationPolicy;
  /** How often the Secret is checked; also how soon other replicas' rotations are picked up. */
  readonly checkIntervalMs: number;
  /** Called with each serving pair to present, the first one included. */
  readonly apply: (pair: KeyPair) => void;
  readonly logger: Logger;
  /** Clock; injected for tests. */
  readonly now?: () => Date;
  /** Reconnect backoff of the configuration watches. */
  readonly backoff?: BackoffOptions;
}

export interface SelfManagedCertificates {
  /** True once a serving certificate from the Secret is applied and every named configuration trusts it. */
  ready(): boolean;
  /** One pass now (the timer keeps running); resolves when it is done, rejects when it failed. */
  reconcile(): Promise<void>;
  stop(): void;
}

/** The parts of a webhook configuration tierguard reads. */
interface WebhookConfiguration {
  readonly kind?: string;
  readonly apiVersion?: string;
  readonly metadata?: { readonly name?: string; readonly resourceVersion?: string };
  readonly webhooks?: readonly { readonly clientConfig?: { readonly caBundle?: string } }[];
}

/** A webhook configuration as read, and where it lives. */
interface FoundConfiguration {
  readonly path: string;
  readonly object: WebhookConfiguration;
}

interface StoredSecret {
  readonly metadata?: Record<string, unknown>;
  readonly type?: string;
  readonly data?: Record<string, string>;
}

const WEBHOOK_KINDS = [
  { kind: 'MutatingWebhookConfiguration', path: '/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations' },
  { kind: 'ValidatingWebhookConfiguration', path: '/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations' },
] as const;

/** Attempts of one pass when another replica writes the Secret at the same time. */
const CONFLICT_ATTEMPTS = 5;

/**
 * Starts at once with a first pass, retried with capped backoff until it works; later passes
 * every `checkIntervalMs`.
 *
 * @example
 * const certificates = startSelfManagedCertificates({ client, namespace: 'tierguard', secretName: 'tierguard-tls',
 *   webhookConfigurations: ['tierguard'], policy, checkIntervalMs: 300_000, apply: (pair) => server.setSecureContext(pair), logger });
 */
export function startSelfManagedCertificates(options: SelfManagedCertificatesOptions): SelfManagedCertificates {
  const { logger } = options;
  const now = options.now ?? (() => new Date());
  const secretPath = `/api/v1/namespaces/${encodeURIComponent(options.namespace)}/secrets`;
  const backoff = createBackoff({ initialMs: 200, maxMs: 30_000 });
  let applied: KeyPair | undefined;
  /** Every named configuration exists and carries the bundle last published (`published`). */
  let trusted = false;
  let published: string | undefined;
  let missingLogged = '';
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let queue: Promise<void> = Promise.resolve();

  /** Reads the Secret, writes the next step if one is due; returns what is now stored. */
  async function settleSecret(configs: readonly FoundConfiguration[]): Promise<StoredCertificates> {
    for (let attempt = 1; ; attempt += 1) {
      const secret = await readOptional<StoredSecret>(options.client, `${secretPath}/${encodeURIComponent(options.secretName)}`);
      const stored = secret ? storedCertificates(secret) : undefined;
      const published = stored ? bundlePublished(stored.caBundle, configs) : false;
      const plan = planCertificates({ stored, policy: options.policy, now: now(), published });
      if (plan.changes.length === 0 && stored) return stored;
      try {
        if (secret) await options.client.replace(`${secretPath}/${encodeURIComponent(options.secretName)}`, secretObject(options, plan.next, secret));
        else await options.client.create(secretPath, secretObject(options, plan.next));
        logger.info('certificate Secret updated', { secret: `${options.namespace}/${options.secretName}`, changes: plan.changes });
        return plan.next;
      } catch (error) {
        if (!(error instanceof KubeApiError && error.statusCode === 409) || attempt >= CONFLICT_ATTEMPTS) throw error;
        logger.info('another replica wrote the certificate Secret first; using what it stored', { secret: `${options.namespace}/${options.secretName}` });
      }
    }
  }

  /** Whether every webhook of every configured configuration trusts the signing CA of `caBundle`. */
  function bundlePublished(caBundle: string, configs: readonly FoundConfiguration[]): boolean {
    const signing = splitPem(caBundle)[0];
    if (!signing) return false;
    for (const config of configs) {
      const webhooks = config.object.webhooks ?? [];
      if (!webhooks.every((webhook) => decode(webhook.clientConfig?.caBundle).includes(signing))) return false;
    }
    return true;
  }

  /** The named configurations that exist (of either kind), and the names of which neither kind does. */
  async function webhookConfigurations(): Promise<{ found: FoundConfiguration[]; missing: string[] }> {
    const found: FoundConfiguration[] = [];
    const missing: string[] = [];
    for (const name of options.webhookConfigurations) {
      const before = found.length;
      for (const { path } of WEBHOOK_KINDS) {
        const object = await readOptional<WebhookConfiguration>(options.client, `${path}/${encodeURIComponent(name)}`);
        if (object) found.push({ path: `${path}/${encodeURIComponent(name)}`, object });
      }
      if (found.length === before) missing.push(name);
    }
    return { found, missing };
  }

  /** Patches the caBundle of every webhook that does not carry `caBundle` yet. */
  async function publish(caBundle: string, configs: readonly FoundConfiguration[]): Promise<void> {
    const encoded = Buffer.from(caBundle).toString('base64');
    for (const { path, object } of configs) {
      const webhooks = object.webhooks ?? [];
      const stale = webhooks.flatMap((webhook, index) => (webhook.clientConfig?.caBundle === encoded ? [] : [index]));
      if (stale.length === 0) continue;
      await options.client.jsonPatch(path, [
        { op: 'test', path: '/metadata/resourceVersion', value: object.metadata?.resourceVersion },
        ...stale.map((index) => ({ op: 'add', path: `/webhooks/${index}/clientConfig/caBundle`, value: encoded })),
      ]);
      logger.info('webhook caBundle updated', { kind: object.kind, name: object.metadata?.name, webhooks: stale.length });
    }
  }

  async function pass(): Promise<void> {
    // Read once per pass: the JSON patch tests their resourceVersion, so a change in between
    // fails the patch and the next pass reads them again.
    const { found: configs, missing } = await webhookConfigurations();
    const stored = await settleSecret(configs);
    await publish(stored.caBundle, configs);
    published = Buffer.from(stored.caBundle).toString('base64');
    trusted = missing.length === 0;
    if (missing.join(',') !== missingLogged) {
      if (missing.length > 0) logger.warn('webhook configuration not found: not ready until it exists and trusts the CA', { names: missing, kinds: WEBHOOK_KINDS.map(({ kind }) => kind) });
      else if (missingLogged) logger.info('every webhook configuration found and trusts the CA', { names: options.webhookConfigurations });
      missingLogged = missing.join(',');
    }
    if (applied?.cert !== stored.cert || applied.key !== stored.key) {
      options.apply({ cert: stored.cert, key: stored.key });
      if (applied) logger.info('serving certificate from the Secret applied', { secret: `${options.namespace}/${options.secretName}` });
      applied = { cert: stored.cert, key: stored.key };
    }
  }

  function schedule(delayMs: number): void {
    if (stopped) return;
    timer = setTimeout(() => { void run(); }, delayMs);
    timer.unref();
  }

  async function run(): Promise<void> {
    clearTimeout(timer);
    try {
      await reconcile();
      backoff.reset();
      schedule(options.checkIntervalMs);
    } catch (error) {
      const delayMs = backoff.next();
      logger.warn('certificate check failed; retrying', { error: (error as Error).message, retryInMs: delayMs });
      schedule(applied ? Math.min(delayMs, options.checkIntervalMs) : delayMs);
    }
  }

  /** One pass at a time: a call while one runs waits for it and then runs its own. */
  function reconcile(): Promise<void> {
    const next = queue.catch(() => {}).then(pass);
    queue = next;
    return next;
  }

  /** A configuration changed: if it no longer carries the bundle, unready at once and publish it again. */
  const onConfigurationChange = (change: WatchChange<WebhookConfiguration>): void => {
    if (change.type === 'SYNC' || published === undefined || !options.webhookConfigurations.includes(change.object.metadata?.name ?? '')) return;
    const bundles = change.type === 'DELETED' ? [] : (change.object.webhooks ?? []).map((webhook) => webhook.clientConfig?.caBundle);
    if (change.type !== 'DELETED' && bundles.every((bundle) => bundle === published)) return;
    if (change.type !== 'ADDED') trusted = false;
    logger.info('webhook configuration changed; publishing the CA bundle again', { kind: change.object.kind, name: change.object.metadata?.name, event: change.type });
    reconcile().catch((error: Error) => logger.warn('certificate check failed; retrying', { error: error.message }));
  };
  const watches: ResilientWatch[] = options.webhookConfigurations.flatMap((name) => WEBHOOK_KINDS.map(({ path }) => startResilientWatch<WebhookConfiguration>({
    client: options.client,
    path,
    query: { fieldSelector: `metadata.name=${name}` },
    decode: (raw) => raw as WebhookConfiguration,
    onChange: onConfigurationChange,
    logger,
    ...(options.backoff ? { backoff: options.backoff } : {}),
  })));

  void run();
  return {
    ready: () => applied !== undefined && trusted,
    reconcile,
    stop: () => {
      stopped = true;
      clearTimeout(timer);
      for (const watch of watches) watch.stop();
    },
  };
}

async function readOptional<T>(client: KubeClient, path: string): Promise<T | undefined> {
  try {
    return await client.get(path) as T;
  } catch (error) {
    if (error instanceof KubeApiError && error.statusCode === 404) return undefined;
    throw error;
  }
}

/** The certificates in a Secret, or undefined when a key is missing (then they are made anew). */
function storedCertificates(secret: StoredSecret): StoredCertificates | undefined {
  const data = secret.data ?? {};
  const [caBundle, caKey, cert, key] = ['ca.crt', 'ca.key', 'tls.crt', 'tls.key'].map((name) => decode(data[name]));
  if (!caBundle || !caKey || !cert || !key) return undefined;
  return { caBundle, caKey, cert, key };
}

function secretObject(options: SelfManagedCertificatesOptions, stored: StoredCertificates, existing?: StoredSecret): unknown {
  const encode = (text: string) => Buffer.from(text).toString('base64');
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      ...(existing?.metadata ?? {}),
      name: options.secretName,
      namespace: options.namespace,
      labels: { ...((existing?.metadata?.labels as Record<string, string>) ?? {}), 'app.kubernetes.io/managed-by': 'tierguard' },
    },
    // The type of an existing Secret cannot change; a new one is a TLS Secret.
    type: existing?.type ?? 'kubernetes.io/tls',
    data: { 'ca.crt': encode(stored.caBundle), 'ca.key': encode(stored.caKey), 'tls.crt': encode(stored.cert), 'tls.key': encode(stored.key) },
  };
}

function decode(value: string | undefined): string {
  return value ? Buffer.from(value, 'base64').toString('utf8') : '';
}
