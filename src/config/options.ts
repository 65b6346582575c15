/**
 * Start-up options of `tierguard serve`: one strict schema, and every default and range in one
 * place (`NUMBER_OPTIONS`, `OPTION_DEFAULTS`), which the command line reads too. The CLI gathers
 * flags into a plain object and this decides what they mean.
 */
import { isIP } from 'node:net';
import { z } from 'zod';
import { failureModes } from '../api/policy.js';
import { DEFAULT_MAX_OBJECT_VALUES, DEFAULT_MAX_VALIDATIONS } from '../engine/validations.js';

/** A DNS subdomain as Kubernetes validates one (RFC 1123): what a certificate's DNS name may be. */
const DNS_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/**
 * 7 MiB, as controller-runtime: the API server accepts objects up to 3 MiB, and an UPDATE review
 * carries both `object` and `oldObject`, plus the envelope.
 */
export const DEFAULT_MAX_BODY_BYTES = 7 * 1024 * 1024;

/**
 * After SIGTERM, how long `/readyz` answers 503 while requests are still served: the endpoint
 * controller, kube-proxy and the API server take a few seconds to stop sending to a deleted pod.
 */
export const DEFAULT_SHUTDOWN_DELAY_MS = 5000;

/**
 * After the delay, how long requests in flight may take before their connections are cut: above
 * the webhook's default `timeoutSeconds` (10 s), after which the API server has given up anyway.
 * Delay plus timeout must stay below the pod's `terminationGracePeriodSeconds` (30 s by default).
 */
export const DEFAULT_SHUTDOWN_TIMEOUT_MS = 15_000;

/** Self-managed serving certificates live 90 days (renewed after 60), as cert-manager's default. */
export const DEFAULT_CERT_VALIDITY_MS = 90 * 86_400_000;

/** The self-managed CA lives two years; its successor is added to the bundle eight months early. */
export const DEFAULT_CA_VALIDITY_MS = 730 * 86_400_000;

/**
 * A whole-number option of `serve`: its range and default, read by the schema below and by the
 * command line (`cli/main.ts`) alike. `unit` is how the command line takes it: a plain number,
 * milliseconds, or a duration with its unit (`90d`).
 */
export interface NumberOption {
  readonly min: number;
  readonly max: number;
  readonly default: number;
  readonly unit: 'number' | 'ms' | 'duration';
}

const DAY_MS = 86_400_000;

export const NUMBER_OPTIONS = {
  port: { min: 0, max: 65535, default: 8443, unit: 'number' },
  metricsPort: { min: 0, max: 65535, default: 9090, unit: 'number' },
  certReloadIntervalMs: { min: 100, max: DAY_MS, default: 10_000, unit: 'ms' },
  /** Lifetime of a self-managed serving certificate; renewed with a third of it left. */
  certValidityMs: { min: 1000, max: 3650 * DAY_MS, default: DEFAULT_CERT_VALIDITY_MS, unit: 'duration' },
  /** Lifetime of the self-managed CA (longer than a certificate's); a new one is added to the bundle with a third of it left. */
  caValidityMs: { min: 2000, max: 7300 * DAY_MS, default: DEFAULT_CA_VALIDITY_MS, unit: 'duration' },
  /** How often the certificate Secret is checked (and other replicas' rotations picked up). */
  certCheckIntervalMs: { min: 100, max: DAY_MS, default: 300_000, unit: 'ms' },
  maxBodyBytes: { min: 1024, max: 64 * 1024 * 1024, default: DEFAULT_MAX_BODY_BYTES, unit: 'number' },
  /** Time bound for the CEL validations of one request. */
  celTimeoutMs: { min: 1, max: 10_000, default: 100, unit: 'ms' },
  /** Time bound for the network override check of one NetworkPolicy. */
  networkCheckTimeoutMs: { min: 1, max: 30_000, default: 2000, unit: 'ms' },
  /** Objects (with oldObject) of more JSON values are refused by CEL validations. */
  maxObjectValues: { min: 100, max: 10_000_000, default: DEFAULT_MAX_OBJECT_VALUES, unit: 'number' },
  /** More CEL validations than this for one request are refused, none evaluated. */
  maxValidations: { min: 1, max: 100_000, default: DEFAULT_MAX_VALIDATIONS, unit: 'number' },
  /** How often `--config` files are checked for changes. */
  configPollIntervalMs: { min: 100, max: 3_600_000, default: 2000, unit: 'ms' },
  /** After SIGTERM: not ready, still serving, for this long before the listener closes. */
  shutdownDelayMs: { min: 0, max: 600_000, default: DEFAULT_SHUTDOWN_DELAY_MS, unit: 'ms' },
  /** Then: time requests in flight may take before their connections are cut. */
  shutdownTimeoutMs: { min: 0, max: 600_000, default: DEFAULT_SHUTDOWN_TIMEOUT_MS, unit: 'ms' },
  /** In a cluster: time between two full background audits; 0 turns the background audit off. */
  auditIntervalMs: { min: 0, max: 7 * DAY_MS, default: 3_600_000, unit: 'duration' },
  /** In a cluster: how long the Lease of the replica that writes reports and status lasts without renewal. */
  leaseDurationMs: { min: 2000, max: 300_000, default: 15_000, unit: 'duration' },
} as const satisfies Record<string, NumberOption>;

/** The defaults of the other options that the command line shows. */
export const OPTION_DEFAULTS = {
  address: '0.0.0.0',
  metricsAddress: '0.0.0.0',
  service: 'tierguard',
  failureMode: 'deny',
  namespace: 'tierguard',
  excludeNamespaces: ['kube-system'],
  adminGroups: ['system:masters'],
  logLevel: 'info',
  reports: 'policyreport',
  leaseName: 'tierguard',
} as const;

/** What the background audit writes: wgpolicyk8s.io PolicyReports, openreports.io Reports, or nothing. */
export const REPORT_FORMATS = ['policyreport', 'openreports', 'none'] as const;

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;

function numberOption(option: NumberOption) {
  return z.coerce.number().int().min(option.min).max(option.max).default(option.default);
}

export const serveOptionsSchema = z.strictObject({
  /** Policy files or directories; empty = the embedded default guardrails. */
  config: z.array(z.string()).default([]),
  address: z.string().default(OPTION_DEFAULTS.address),
  port: numberOption(NUMBER_OPTIONS.port),
  metricsAddress: z.string().default(OPTION_DEFAULTS.metricsAddress),
  metricsPort: numberOption(NUMBER_OPTIONS.metricsPort),
  tlsCert: z.string().optional(),
  tlsKey: z.string().optional(),
  /** Where the generated CA bundle is written when no certificate is given. */
  caOut: z.string().optional(),
  certReloadIntervalMs: numberOption(NUMBER_OPTIONS.certReloadIntervalMs),
  /** PEM CA bundle: when set, clients (the API server) must present a certificate it signed. */
  clientCa: z.string().min(1).optional(),
  /**
   * Self-managed certificates: the Secret in `namespace` holding the CA and serving certificate,
   * created when absent and rotated by tierguard; needs a cluster connection.
   */
  tlsSecret: z.string().min(1).optional(),
  /** Mutating- and ValidatingWebhookConfigurations (by name) whose caBundle tracks that Secret. */
  webhookConfigurations: z.array(z.string().min(1)).default([]),
  /** The webhook's Service, whose DNS names the self-managed serving certificate carries. */
  service: z.string().min(1).default(OPTION_DEFAULTS.service),
  /** More IP addresses the self-managed certificate is issued for (`--ip`): webhooks registered by URL, runs outside the cluster. */
  ip: z.array(z.string().refine((value) => isIP(value) !== 0, { message: 'not an IPv4 or IPv6 address' })).default([]),
  /** More DNS names the self-managed certificate is issued for (`--dns`). */
  dns: z.array(z.string().regex(DNS_NAME, 'not a DNS name (lowercase letters, digits, - and ., e.g. tierguard.example.com)')).default([]),
  certValidityMs: numberOption(NUMBER_OPTIONS.certValidityMs),
  caValidityMs: numberOption(NUMBER_OPTIONS.caValidityMs),
  certCheckIntervalMs: numberOption(NUMBER_OPTIONS.certCheckIntervalMs),
  failureMode: z.enum(failureModes).default(OPTION_DEFAULTS.failureMode),
  /** tierguard's own namespace, always excluded. */
  namespace: z.string().min(1).default(OPTION_DEFAULTS.namespace),
  /** Namespaces left alone, matched by name (`kubernetes.io/metadata.name`), never by labels. */
  excludeNamespaces: z.array(z.string()).default([...OPTION_DEFAULTS.excludeNamespaces]),
  maxBodyBytes: numberOption(NUMBER_OPTIONS.maxBodyBytes),
  celTimeoutMs: numberOption(NUMBER_OPTIONS.celTimeoutMs),
  networkCheckTimeoutMs: numberOption(NUMBER_OPTIONS.networkCheckTimeoutMs),
  maxObjectValues: numberOption(NUMBER_OPTIONS.maxObjectValues),
  maxValidations: numberOption(NUMBER_OPTIONS.maxValidations),
  logLevel: z.enum(LOG_LEVELS).default(OPTION_DEFAULTS.logLevel),
  /** Watch the cluster of this kubeconfig (its current context). */
  kubeconfig: z.string().optional(),
  /** Watch the cluster through the pod's service account. */
  inCluster: z.boolean().default(false),
  configPollIntervalMs: numberOption(NUMBER_OPTIONS.configPollIntervalMs),
  /**
   * Groups whose members may change namespace labels that guardrails select on (`--admin-groups`);
   * an empty list leaves no admin group. Matched exactly on `request.userInfo.groups`.
   */
  adminGroups: z.array(z.string().min(1)).default([...OPTION_DEFAULTS.adminGroups]),
  /** Users who may change namespace labels that guardrails select on (`--admin-users`), by `request.userInfo.username`. */
  adminUsers: z.array(z.string().min(1)).default([]),
  shutdownDelayMs: numberOption(NUMBER_OPTIONS.shutdownDelayMs),
  shutdownTimeoutMs: numberOption(NUMBER_OPTIONS.shutdownTimeoutMs),
  auditIntervalMs: numberOption(NUMBER_OPTIONS.auditIntervalMs),
  reports: z.enum(REPORT_FORMATS).default(OPTION_DEFAULTS.reports),
  /** The Lease (in `namespace`) whose holder writes reports and status. */
  leaseName: z.string().regex(DNS_NAME, 'not a DNS name').default(OPTION_DEFAULTS.leaseName),
  leaseDurationMs: numberOption(NUMBER_OPTIONS.leaseDurationMs),
}).superRefine((options, ctx) => {
  if ((options.tlsCert === undefined) !== (options.tlsKey === undefined)) {
    ctx.addIssue({ code: 'custom', message: '--tls-cert and --tls-key go together', path: ['tlsCert'] });
  }
  if (options.tlsSecret !== undefined && options.tlsCert !== undefined) {
    ctx.addIssue({ code: 'custom', message: '--tls-secret (self-managed certificates) and --tls-cert (certificate files) exclude each other', path: ['tlsSecret'] });
  }
  if (options.tlsSecret !== undefined && options.kubeconfig === undefined && !options.inCluster) {
    ctx.addIssue({ code: 'custom', message: '--tls-secret needs a cluster connection (in-cluster, or --kubeconfig)', path: ['tlsSecret'] });
  }
  if (options.caValidityMs <= options.certValidityMs) {
    ctx.addIssue({ code: 'custom', message: `must be longer than --cert-validity (${options.certValidityMs} ms)`, path: ['caValidityMs'] });
  }
});

export type ServeOptions = z.infer<typeof serveOptionsSchema>;

/** Validates raw options; throws an Error listing every bad option. */
export function parseServeOptions(raw: Record<string, unknown>): ServeOptions {
  const parsed = serveOptionsSchema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((issue) => `${flagOf(String(issue.path[0] ?? ''))}: ${issue.code === 'unrecognized_keys' ? `unknown option ${issue.keys.join(', ')}` : issue.message}`);
  throw new Error(`invalid options:\n${problems.join('\n')}`);
}

/** The flag of an option: `shutdownDelayMs` is `--shutdown-delay` (flags in ms carry no unit). */
export function flagOf(name: string): string {
  return `--${name.replace(/Ms$/, '').replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}
