#!/usr/bin/env node
/**
 * The composition root and the only code that reads `process`: parses the command line and runs
 * `serve`, `check`, `audit`, `explain`, `lint` or `certs`. Exit codes: 0 ok, 1 something denied (check) or failing (audit), 2 usage or policy errors.
 */
import { readFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { isIP } from 'node:net';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { boundedRunner } from '../review/bounded.js';
import { flagOf, LOG_LEVELS, NUMBER_OPTIONS, OPTION_DEFAULTS, parseServeOptions, REPORT_FORMATS, type NumberOption, type ServeOptions } from '../config/options.js';
import { failureModes } from '../api/policy.js';
import type { NamedPort } from '../engine/network/connectivity.js';
import { DEFAULT_POLICY_DIR, loadPolicyFolder, loadPolicySet } from '../policy/load.js';
import { readManifests } from '../policy/manifests.js';
import { formatProblem, type PolicyProblem } from '../policy/problems.js';
import type { AuditOptions } from '../review/audit.js';
import { createLogger, turnWriter, type LogLevel } from '../telemetry/logger.js';
import { checkJson, checkManifests, formatCheckText, manifestProblems } from './check.js';
import { tuneHeap } from './heap.js';
import {
  endpointFlag, explainContext, explainQueries, explainQuery, formatExplainText, namedPortFlag, queryFromFlags, QueryLineError, verdictJson,
  type ExplainContext, type Query, type QueryEndpoint,
} from './explain.js';

const EXIT_USAGE = 2;

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** A repeatable flag whose values may also be comma-separated: `--x a,b --x c` is [a, b, c]. */
function collectList(value: string, previous: string[] = []): string[] {
  return [...previous, ...value.split(',').map((item) => item.trim()).filter((item) => item !== '')];
}

function integer(name: string, min: number, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`${name} must be an integer from ${min} to ${max}`);
    return n;
  };
}

const DURATION_UNITS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** A duration with its unit, `90d`, `2160h`, `30s`, as milliseconds. */
function duration(name: string, min: number, max: number) {
  return (value: string): number => {
    const match = /^(\d+)(ms|s|m|h|d)$/.exec(value.trim());
    if (!match && value.trim() !== '0') throw new InvalidArgumentError(`${name} must be a whole number with a unit (ms, s, m, h or d), e.g. 90d`);
    const ms = match ? Number(match[1]) * DURATION_UNITS[match[2]!]! : 0;
    if (ms < min || ms > max) throw new InvalidArgumentError(`${name} must be from ${formatDuration(min)} to ${formatDuration(max)}`);
    return ms;
  };
}

/** Milliseconds as a user types a duration: the largest unit that divides it (`90d`, `1500ms`). */
function formatDuration(ms: number): string {
  if (ms === 0) return '0';
  for (const [unit, size] of Object.entries(DURATION_UNITS).reverse()) {
    if (ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

/**
 * A numeric `serve` flag whose range and default are `NUMBER_OPTIONS[name]` (config/options.ts,
 * which the options schema reads too); the help shows the default as a user types it.
 */
function numberFlag(name: keyof typeof NUMBER_OPTIONS, placeholder: string, description: string): Option {
  const option: NumberOption = NUMBER_OPTIONS[name];
  const flag = flagOf(name);
  const flags = `${flag} <${placeholder}>`;
  const parse = option.unit === 'duration' ? duration(flag, option.min, option.max) : integer(flag, option.min, option.max);
  return new Option(flags, description).argParser(parse).default(option.default, option.unit === 'duration' ? formatDuration(option.default) : String(option.default));
}

function ipAddress(value: string, previous: string[] = []): string[] {
  if (isIP(value) === 0) throw new InvalidArgumentError(`${JSON.stringify(value)} is not an IPv4 or IPv6 address`);
  return [...previous, value];
}

/** Turns a parser that throws into a commander argument parser (its message becomes the usage error). */
function flag<T>(parse: (value: string) => T) {
  return (value: string): T => {
    try {
      return parse(value);
    } catch (error) {
      throw new InvalidArgumentError((error as Error).message);
    }
  };
}

/** The package's version, from the package.json beside `dist/` (as installed, and in the image). */
function packageVersion(): string {
  try {
    const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
    return typeof version === 'string' ? version : 'unknown';
  } catch {
    return 'unknown';
  }
}

/**
 * Options a command cannot run without. Not commander's `requiredOption`: commander reports a
 * missing one before an unknown one, so `check --fiel x.yaml` said `-f` was missing instead of
 * naming `--fiel`. These are checked after the unknown options, before the action.
 */
const mandatory = new WeakSet<Option>();

function mandatoryOption(flags: string, description: string, parse?: (value: string, previous: string[]) => string[]): Option {
  const option = new Option(flags, description);
  if (parse) option.argParser(parse);
  mandatory.add(option);
  return option;
}

function checkMandatoryOptions(command: Command): void {
  for (const option of command.options) {
    if (mandatory.has(option) && command.getOptionValue(option.attributeName()) === undefined) {
      command.error(`error: required option '${option.flags}' not specified`, { exitCode: EXIT_USAGE, code: 'commander.missingMandatoryOptionValue' });
    }
  }
}

function fail(message: string): never {
  process.stderr.write(`tierguard: ${message}\n`);
  process.exit(EXIT_USAGE);
}

/**
 * The serve stack (Kubernetes client, HTTPS server, metrics, certificates) is loaded by the
 * commands that use it, not at startup: it is most of the start-up time, and `check`, `explain`
 * and `lint` run in pipelines (and usage errors should come back at once).
 */
const serveModule = () => import('./serve.js');

async function failOnPolicySet(problems: readonly PolicyProblem[]): Promise<never> {
  const { PolicySetError } = await serveModule();
  fail(new PolicySetError(problems).message);
}

interface ExplainFlags {
  config: string[];
  filename: string[];
  from?: QueryEndpoint;
  to?: QueryEndpoint;
  toPort: [string, NamedPort][];
  protocol: string;
  port?: number;
  queries?: string;
  output: 'text' | 'json';
}

/** `explain` answers either one query given by flags or the lines of `--queries`, never both. */
function explainUsage(flags: ExplainFlags, command: Command): void {
  const single = flags.from !== undefined || flags.to !== undefined || flags.port !== undefined || flags.toPort.length > 0 || command.getOptionValueSource('protocol') === 'cli';
  if (flags.queries !== undefined && single) fail('give either --queries or --from/--to/--port, not both');
  if (flags.queries !== undefined && command.getOptionValueSource('output') === 'cli' && flags.output === 'text') fail('--queries writes JSON lines; -o text is for a single query');
  if (flags.queries === undefined && (flags.from === undefined || flags.to === undefined || flags.port === undefined)) fail('give --from, --to and --port (or --queries FILE)');
}

async function loadExplainContext(flags: ExplainFlags): Promise<ExplainContext> {
  const loaded = await loadPolicySet(flags.config.length > 0 ? flags.config : [DEFAULT_POLICY_DIR], { generation: 1 });
  if (!loaded.set) return failOnPolicySet(loaded.problems);
  for (const warning of loaded.warnings) process.stderr.write(`tierguard: warning: ${warning}\n`);
  const manifests = await readManifests(flags.filename);
  const built = explainContext({ set: loaded.set, documents: manifests.documents, namespaces: loaded.namespaces });
  const problems = [...manifests.problems, ...manifestProblems(manifests.documents), ...built.problems];
  if (problems.length > 0 || !built.context) fail(`cannot read the manifests:\n${problems.map(formatProblem).join('\n')}`);
  return built.context;
}

/** Streams `--queries` (a file, or `-` for stdin) to stdout; a malformed line exits 2 after the earlier answers. */
async function runQueries(context: ExplainContext, file: string): Promise<void> {
  const source = file === '-' ? 'stdin' : file;
  // A reader that stops early (`| head`) closes the pipe: stop quietly, nothing failed.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => (error.code === 'EPIPE' ? process.exit(0) : fail(`cannot write the answers: ${error.message}`)));
  try {
    const input = file === '-' ? process.stdin : (await open(file)).createReadStream();
    await explainQueries({ context, input, output: process.stdout });
  } catch (error) {
    fail(error instanceof QueryLineError ? `${source} ${error.message}` : `cannot read the queries from ${source}: ${(error as Error).message}`);
  }
}

interface AuditFlags {
  filename: string[];
  kubeconfig?: string;
  config: string[];
  output: 'text' | 'json';
  namespace: string;
  excludeNamespace?: string[];
}

type AuditInput = Pick<AuditOptions, 'set' | 'objects' | 'namespaces'>;

/**
 * The policy set of `--config` (default: the embedded guardrails; its warnings on stderr) and the
 * objects of `-f`, as `check` and `audit` read them; exit 2 on a problem with either.
 */
async function policiesAndManifests(config: readonly string[], filename: readonly string[]) {
  const loaded = await loadPolicySet(config.length > 0 ? config : [DEFAULT_POLICY_DIR], { generation: 1 });
  if (!loaded.set) return failOnPolicySet(loaded.problems);
  for (const warning of loaded.warnings) process.stderr.write(`tierguard: warning: ${warning}\n`);
  const manifests = await readManifests(filename);
  const problems = [...manifests.problems, ...manifestProblems(manifests.documents)];
  if (problems.length > 0) fail(`cannot read the manifests:\n${problems.map(formatProblem).join('\n')}`);
  const skipped = manifests.skipped ?? [];
  if (skipped.length > 0) process.stderr.write(`tierguard: warning: skipped ${skipped.length} file${skipped.length === 1 ? '' : 's'} that ${skipped.length === 1 ? 'is' : 'are'} not .yaml, .yml or .json: ${skipped.join(', ')}\n`);
  if (manifests.documents.length === 0) process.stderr.write(`tierguard: warning: no objects found in ${filename.join(', ')}\n`);
  return { loaded: { ...loaded, set: loaded.set }, manifests };
}

/** The policy set of `--config` (default: the embedded guardrails) and the objects of `-f`. */
async function manifestAuditInput(flags: AuditFlags): Promise<AuditInput> {
  const { loaded, manifests } = await policiesAndManifests(flags.config, flags.filename);
  return { set: loaded.set, objects: manifests.documents.map(({ value }) => value as AuditInput['objects'][number]), namespaces: loaded.namespaces };
}

/**
 * A cluster's objects, listed once, and the policy set `serve` would have in force there: its
 * Tiers and Guardrails (an invalid one left out, said on stderr) with the `--config` files, if any.
 */
async function clusterAuditInput(kubeconfig: string, config: readonly string[]): Promise<AuditInput> {
  const { loadKubeConfig } = await import('../cluster/kube-config.js');
  const { createKubeClient } = await import('../cluster/kube-client.js');
  const { readClusterSnapshot } = await import('../cluster/audit-snapshot.js');
  const { documentUnits, resolvePolicySet } = await import('../policy/resolve.js');
  let snapshot;
  try {
    const kubeConfig = await loadKubeConfig({ kubeconfig });
    snapshot = await readClusterSnapshot(createKubeClient({ kubeConfig: kubeConfig! }));
  } catch (error) {
    fail(`cannot read the cluster: ${(error as Error).message}`);
  }
  const files = config.length > 0 ? await readManifests(config) : { documents: [], problems: [] };
  if (files.problems.length > 0) return failOnPolicySet(files.problems);
  const resolution = resolvePolicySet(documentUnits([...files.documents, ...snapshot.policyDocuments]), { generation: 1, shadows: 'none' });
  if (!resolution.result.set) return failOnPolicySet(resolution.result.problems);
  for (const [key, outcome] of resolution.outcomes) {
    if (outcome.state === 'out') process.stderr.write(`tierguard: warning: ${key} is not in force (${outcome.reason}): not audited against\n`);
  }
  return { set: resolution.result.set, objects: snapshot.objects, namespaces: resolution.result.namespaces };
}

/** The engine options of the offline commands (`check`, `audit`, `test`): serve's exclusions and CEL time bound. */
function offlineEngine(flags: { namespace: string; excludeNamespace?: readonly string[] }) {
  return { excludedNamespaces: new Set([...(flags.excludeNamespace ?? OPTION_DEFAULTS.excludeNamespaces), flags.namespace]), runBounded: boundedRunner(NUMBER_OPTIONS.celTimeoutMs.default) };
}

/** `--failure-mode`, as `serve` and `check` take it. */
function failureModeFlag(): Option {
  return new Option('--failure-mode <mode>', 'what to do when a rule cannot be evaluated (CEL error, internal error); a NetworkPolicy whose override check stops at a bound is denied whatever the mode')
    .choices(failureModes).default(OPTION_DEFAULTS.failureMode);
}

/** `--exclude-namespace`, as `serve` and `check` take it; its default is applied by whoever reads it. */
function excludeNamespaceFlag(): Option {
  return new Option('--exclude-namespace <name>', `namespace to leave alone, by name (repeatable; default ${OPTION_DEFAULTS.excludeNamespaces.join(', ')})`).argParser(collect);
}

/** `serve` flags given in milliseconds or as durations: `--cel-timeout` is the option `celTimeoutMs`. */
const MILLISECOND_FLAGS: ReadonlySet<string> = new Set(Object.keys(NUMBER_OPTIONS).filter((name) => name.endsWith('Ms')).map((name) => name.slice(0, -2)));

/** The options of `serve` from its parsed flags (names as the options schema has them). */
function serveOptionsFrom(flags: Record<string, unknown>): ServeOptions {
  const { excludeNamespace, webhookConfiguration, inCluster, ...rest } = flags;
  const raw = Object.fromEntries(Object.entries(rest).map(([key, value]) => [MILLISECOND_FLAGS.has(key) ? `${key}Ms` : key, value]));
  return parseServeOptions({
    ...raw,
    webhookConfigurations: webhookConfiguration,
    // The pod's service account only when actually in a pod.
    inCluster: inCluster === true && process.env.KUBERNETES_SERVICE_HOST !== undefined,
    ...(excludeNamespace ? { excludeNamespaces: excludeNamespace } : {}),
  });
}

function buildProgram(): Command {
  const program = new Command('tierguard')
    .description('Kubernetes admission webhook enforcing tiered network-security guardrails')
    .version(packageVersion())
    .exitOverride()
    .configureOutput({ writeErr: (text) => process.stderr.write(text) })
    .hook('preAction', (_program, command) => checkMandatoryOptions(command));

  program.command('version')
    .description('print the version')
    .action(() => {
      process.stdout.write(`${packageVersion()}\n`);
    });

  program.command('serve')
    .description('run the admission webhook (HTTPS) and the metrics endpoint (HTTP)')
    .option('--config <path>', 'policy file or directory (repeatable); default: the embedded guardrails', collect, [])
    .option('--address <addr>', 'webhook bind address', OPTION_DEFAULTS.address)
    .addOption(numberFlag('port', 'port', 'webhook HTTPS port'))
    .option('--metrics-address <addr>', 'metrics bind address', OPTION_DEFAULTS.metricsAddress)
    .addOption(numberFlag('metricsPort', 'port', 'metrics HTTP port'))
    .option('--tls-cert <file>', 'serving certificate (PEM); reloaded when the file changes')
    .option('--tls-key <file>', 'serving key (PEM)')
    .option('--ca-out <file>', 'where to write the generated CA bundle when no certificate is given')
    .addOption(numberFlag('certReloadIntervalMs', 'ms', 'how often certificate files are checked for changes'))
    .option('--client-ca <file>', 'require a client certificate signed by this CA (PEM) on the webhook port, e.g. the API server\'s')
    .option('--tls-secret <name>', 'self-managed certificates: keep the CA and serving certificate in this Secret of --namespace (created if absent, rotated; needs a cluster)')
    .option('--webhook-configuration <name>', 'Mutating- and ValidatingWebhookConfiguration whose caBundle tierguard keeps in step with --tls-secret (repeatable)', collect, [])
    .option('--service <name>', 'the webhook Service: the self-managed certificate is issued for its DNS names in --namespace', OPTION_DEFAULTS.service)
    .option('--ip <addr>', 'also issue the self-managed certificate for this IP address, e.g. for a webhook registered by URL (repeatable)', ipAddress, [])
    .option('--dns <name>', 'also issue the self-managed certificate for this DNS name (repeatable)', collect, [])
    .addOption(numberFlag('certValidityMs', 'duration', 'lifetime of a self-managed serving certificate, e.g. 90d or 2160h (renewed with a third left)'))
    .addOption(numberFlag('caValidityMs', 'duration', 'lifetime of the self-managed CA, e.g. 730d (a successor is trusted with a third left)'))
    .addOption(numberFlag('certCheckIntervalMs', 'ms', 'how often the certificate Secret is checked for due rotations and other replicas\' changes'))
    .addOption(failureModeFlag())
    .option('--namespace <name>', "tierguard's own namespace (always excluded)", process.env.POD_NAMESPACE ?? OPTION_DEFAULTS.namespace)
    .addOption(excludeNamespaceFlag())
    .option('--admin-groups <names>', `groups whose members may change namespace labels that guardrails select on (repeatable, comma-separated; replaces the default ${OPTION_DEFAULTS.adminGroups.join(',')}; "" for none)`, collectList)
    .option('--admin-users <names>', 'users who may change namespace labels that guardrails select on (repeatable, comma-separated; default none)', collectList)
    .addOption(numberFlag('maxBodyBytes', 'n', 'largest accepted AdmissionReview body'))
    .addOption(numberFlag('celTimeoutMs', 'ms', 'time bound for the CEL validations of one request'))
    .addOption(numberFlag('networkCheckTimeoutMs', 'ms', 'time bound for the override check of one NetworkPolicy'))
    .addOption(numberFlag('maxObjectValues', 'n', 'CEL validations refuse an object (with its oldObject) of more JSON values'))
    .addOption(numberFlag('maxValidations', 'n', 'most CEL validations evaluated for one request; above, none is and the request gets a rule error'))
    .option('--kubeconfig <file>', 'watch Tier, Guardrail, Namespace and NetworkPolicy objects in this cluster (current context)')
    .option('--no-in-cluster', "do not use the pod's service account even when running in a cluster")
    .addOption(numberFlag('configPollIntervalMs', 'ms', 'how often --config files are checked for changes'))
    .addOption(numberFlag('shutdownDelayMs', 'ms', 'after SIGTERM, how long /readyz answers 503 while requests are still served, before the listener closes'))
    .addOption(numberFlag('shutdownTimeoutMs', 'ms', 'then, how long requests in flight may take before their connections are cut'))
    .addOption(numberFlag('auditIntervalMs', 'duration', 'in a cluster: time between full background audits of existing objects, e.g. 1h; 0 turns the background audit off'))
    .addOption(new Option('--reports <format>', 'in a cluster: where background audit results go: wgpolicyk8s.io PolicyReports, openreports.io Reports, or none').choices(REPORT_FORMATS).default(OPTION_DEFAULTS.reports))
    .option('--lease-name <name>', 'in a cluster: the coordination.k8s.io Lease in --namespace whose holder alone writes reports and status', OPTION_DEFAULTS.leaseName)
    .addOption(numberFlag('leaseDurationMs', 'duration', 'in a cluster: how long that Lease lasts without renewal; another replica takes over within it'))
    .addOption(new Option('--log-level <level>', 'log level').choices(LOG_LEVELS).default(OPTION_DEFAULTS.logLevel))
    .action(async (flags: Record<string, unknown>) => {
      let options;
      try {
        options = serveOptionsFrom(flags);
      } catch (error) {
        fail((error as Error).message);
      }
      // One write per turn of the event loop (turnWriter); on exit, whatever the turn had not written.
      const stderr = turnWriter((text) => process.stderr.write(text));
      process.on('exit', stderr.flush);
      const logger = createLogger({ level: options.logLevel as LogLevel, write: stderr.write });
      const { PolicySetError, startServer } = await serveModule();
      try {
        const running = await startServer(options, logger);
        // The first SIGTERM or SIGINT drains (exit 0 when every request in flight was answered,
        // 1 when --shutdown-timeout cut some); a second one exits at once with 1.
        let stopping = false;
        const stop = (signal: string) => {
          if (stopping) {
            logger.warn('second signal: exiting without waiting for the drain', { signal });
            process.exit(1);
          }
          stopping = true;
          logger.info('shutting down', { signal, shutdownDelayMs: options.shutdownDelayMs, shutdownTimeoutMs: options.shutdownTimeoutMs });
          running.drain().then(({ cutRequests }) => process.exit(cutRequests === 0 ? 0 : 1), (error: Error) => {
            logger.error('shutdown failed', { error: error.message });
            process.exit(1);
          });
        };
        process.on('SIGTERM', () => stop('SIGTERM'));
        process.on('SIGINT', () => stop('SIGINT'));
        // Only now: whoever waits for this line may signal at once, and must not find the default handlers.
        if (running.caPath) process.stdout.write(`tierguard: CA bundle for the generated certificate written to ${running.caPath}\n`);
        process.stdout.write(`tierguard: serving https://${options.address}:${running.port} (metrics http://${options.metricsAddress}:${running.metricsPort}/metrics)\n`);
      } catch (error) {
        stderr.flush();
        fail(error instanceof PolicySetError ? error.message : `cannot start: ${(error as Error).message}`);
      }
    });

  program.command('check')
    .description('evaluate manifests as CREATE requests, exactly as the webhook would (exit 0 allowed, 1 denied, 2 errors)')
    .addOption(mandatoryOption('-f, --filename <path>', 'manifest file or directory (repeatable)', collect))
    .option('--config <path>', 'policy file or directory (repeatable); default: the embedded guardrails', collect, [])
    .addOption(new Option('-o, --output <format>', 'output format').choices(['text', 'json']).default('text'))
    .addOption(failureModeFlag())
    .option('--namespace <name>', "tierguard's own namespace (excluded)", OPTION_DEFAULTS.namespace)
    .addOption(excludeNamespaceFlag())
    .addOption(numberFlag('maxBodyBytes', 'n', "the webhook's body limit: an object whose AdmissionReview is larger is refused, as the API server's call to the webhook would fail"))
    .action(async (flags: { filename: string[]; config: string[]; output: 'text' | 'json'; failureMode: 'deny' | 'allow'; namespace: string; excludeNamespace?: string[]; maxBodyBytes: number }) => {
      const { loaded, manifests } = await policiesAndManifests(flags.config, flags.filename);
      const results = await checkManifests({
        set: loaded.set,
        documents: manifests.documents,
        namespaces: loaded.namespaces,
        engine: offlineEngine(flags),
        failureMode: flags.failureMode,
        maxBodyBytes: flags.maxBodyBytes,
      });
      process.stdout.write(flags.output === 'json' ? checkJson(results) : formatCheckText(results));
      process.exitCode = results.every((result) => result.allowed) ? 0 : 1;
    });

  program.command('audit')
    .description('judge existing objects as admission would judge their creation (validation only), and find the pods a guardrail\'s Deny does not reach because no NetworkPolicy isolates them (exit 0 no Enforce guardrail fails, 1 one does, 2 errors)')
    .option('-f, --filename <path>', 'manifests of the objects to audit (repeatable), e.g. the output of kubectl get namespaces,networkpolicies,pods,deployments,statefulsets,daemonsets,cronjobs -A -o yaml', collect, [])
    .option('--kubeconfig <file>', 'audit the cluster of this kubeconfig (current context) instead, read-only: its objects, and its Tiers and Guardrails with any --config')
    .option('--config <path>', 'policy file or directory (repeatable); default: the embedded guardrails (with --kubeconfig: none, the cluster\'s)', collect, [])
    .addOption(new Option('-o, --output <format>', 'output format').choices(['text', 'json']).default('text'))
    .option('--namespace <name>', "tierguard's own namespace (excluded)", OPTION_DEFAULTS.namespace)
    .addOption(excludeNamespaceFlag())
    .action(async (flags: AuditFlags) => {
      if ((flags.filename.length > 0) === (flags.kubeconfig !== undefined)) fail('give -f PATH... (manifests) or --kubeconfig FILE (a cluster, read-only)');
      const input = flags.kubeconfig !== undefined ? await clusterAuditInput(flags.kubeconfig, flags.config) : await manifestAuditInput(flags);
      const { auditObjects } = await import('../review/audit.js');
      const { auditFails, auditJson, formatAuditText } = await import('./audit.js');
      const report = await auditObjects({
        ...input,
        engine: offlineEngine(flags),
      });
      process.stdout.write(flags.output === 'json' ? auditJson(report) : formatAuditText(report));
      process.exitCode = auditFails(report) ? 1 : 0;
    });

  program.command('explain')
    .description('what-if for connections: the verdict of each side and the tier rule or NetworkPolicies that decided it (exit 0 whatever the verdict, 2 on errors)')
    .option('--config <path>', 'policy file or directory (repeatable); default: the embedded guardrails', collect, [])
    .option('-f, --filename <path>', 'manifests with the Namespaces and NetworkPolicies to use (repeatable); other kinds are ignored', collect, [])
    .option('--from <endpoint>', 'source: a pod as NAMESPACE/KEY=VALUE,... (NAMESPACE/ for no labels) or an IP address', flag(endpointFlag))
    .option('--to <endpoint>', 'destination: as --from', flag(endpointFlag))
    .option('--to-port <name=port/proto>', 'a named container port of the destination pod, e.g. http=8080/TCP (repeatable; protocol TCP when omitted)', (value: string, previous: [string, NamedPort][] = []) => [...previous, flag(namedPortFlag)(value)], [])
    .addOption(new Option('--protocol <protocol>', 'protocol of the connection').choices(['TCP', 'UDP', 'SCTP']).default('TCP'))
    .option('--port <n>', 'destination port of the connection', integer('--port', 1, 65535))
    .option('--queries <file>', 'JSON lines of queries ("-" for stdin) instead of --from/--to/--port; writes one JSON verdict line per query, in order')
    .addOption(new Option('-o, --output <format>', 'output format of a single query (--queries always writes JSON lines)').choices(['text', 'json']).default('text'))
    .addHelpText('after', `
A query line ("protocol" is TCP when omitted; every line must be a query, blank lines included,
so that answer N is for line N): {"from": {"namespace": "a", "labels": {"app": "x"}} | {"address": "10.1.2.3"},
  "to": {"namespace": "b", "labels": {}, "ports": {"http": {"port": 8080, "protocol": "TCP"}}} | {"address": "..."},
  "protocol": "TCP", "port": 8080}
An answer line: {"allowed": bool, "egress": {"allowed", "decidedBy"}, "ingress": {"allowed", "decidedBy"}}.
A malformed line stops the run with exit 2 (line number and reason on stderr); the answers to the
lines before it have already been written. The exit code is 0 whether connections are allowed or not.

Example: tierguard explain -f manifests/ --from shop/app=web --to db/app=pg --to-port sql=5432/TCP --port 5432`)
    .action(async (flags: ExplainFlags, command: Command) => {
      explainUsage(flags, command);
      const context = await loadExplainContext(flags);
      if (flags.queries !== undefined) return runQueries(context, flags.queries);
      let query: Query;
      try {
        query = queryFromFlags({ from: flags.from!, to: flags.to!, toPorts: flags.toPort, protocol: flags.protocol, port: flags.port! });
      } catch (error) {
        fail(`invalid query: ${(error as Error).message}`);
      }
      const verdict = explainQuery(context, query);
      process.stdout.write(flags.output === 'json' ? `${JSON.stringify(verdictJson(verdict))}\n` : formatExplainText(query, verdict, context));
    });

  program.command('lint')
    .description('check policy files offline as the webhook admits Tier and Guardrail objects, the files as one set (exit 0 valid, 1 invalid, 2 usage errors)')
    .addOption(mandatoryOption('--config <path>', 'policy file or directory (repeatable); in a folder of other manifests (GitOps), only the Tiers, Guardrails and Namespaces are checked', collect))
    .action(async (flags: { config: string[] }) => {
      const loaded = await loadPolicyFolder(flags.config, { generation: 1 });
      // A path that cannot be read is a usage error, as for check (readManifests says so as document 0).
      const unreadable = loaded.problems.filter((problem) => problem.source.document === 0);
      if (unreadable.length > 0) fail(unreadable.map(formatProblem).join('\n'));
      const { skipped } = loaded;
      if (skipped.size > 0) {
        const count = [...skipped.values()].reduce((sum, n) => sum + n, 0);
        process.stdout.write(`skipped ${count} object${count === 1 ? '' : 's'} of other kinds: ${[...skipped].map(([kind, n]) => `${kind} ${n}`).join(', ')}\n`);
      }
      for (const warning of loaded.warnings) process.stdout.write(`warning: ${warning}\n`);
      if (loaded.set) {
        process.stdout.write(`${flags.config.join(', ')}: ${loaded.set.tiers.length} tiers, ${loaded.set.guardrails.length} guardrails, valid\n`);
        return;
      }
      process.stdout.write(`${loaded.problems.map(formatProblem).join('\n')}\n${loaded.problems.length} problem${loaded.problems.length === 1 ? '' : 's'}\n`);
      process.exitCode = 1;
    });

  program.command('test')
    .description('run policy test cases: each tierguard-test.yaml names policies, resources and the outcome expected for each resource (exit 0 all pass, 1 a case fails, 2 errors)')
    .argument('<path...>', 'test files, or directories searched for tierguard-test.yaml')
    .action(async (paths: string[]) => {
      const { findTestFiles, formatTestTable, runTestFile, TestFileError } = await import('./policy-test.js');
      const engine = offlineEngine({ namespace: OPTION_DEFAULTS.namespace });
      try {
        const files = await findTestFiles(paths);
        if (files.length === 0) fail(`no tierguard-test.yaml found in ${paths.join(', ')}`);
        const rows = [];
        for (const file of files) rows.push(...(await runTestFile(file, engine)));
        process.stdout.write(formatTestTable(rows));
        process.exitCode = rows.every((row) => row.pass) ? 0 : 1;
      } catch (error) {
        if (error instanceof TestFileError) fail(error.message);
        throw error;
      }
    });

  program.command('certs')
    .description('write a development CA (ca.crt) and serving certificate (tls.crt, tls.key) for the webhook Service')
    .addOption(mandatoryOption('--service <name>', 'webhook Service name'))
    .addOption(mandatoryOption('--namespace <ns>', 'webhook Service namespace'))
    .option('--ip <addr>', 'extra IP address SAN (repeatable)', ipAddress, [])
    .option('--dns <name>', 'extra DNS name SAN (repeatable)', collect, [])
    .option('--out <dir>', 'output directory', '.')
    .option('--days <n>', 'validity in days', integer('--days', 1, 3650), 365)
    .option('--force', 'overwrite existing files', false)
    .action(async (flags: { service: string; namespace: string; ip: string[]; dns: string[]; out: string; days: number; force: boolean }) => {
      try {
        const { writeCertificates } = await import('./certs.js');
        const files = await writeCertificates(flags);
        process.stdout.write(`${files.map((file) => `wrote ${file}`).join('\n')}\n`);
      } catch (error) {
        fail((error as Error).message);
      }
    });
  return program;
}

tuneHeap();
try {
  await buildProgram().parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) {
    process.exit(error.exitCode === 0 || error.code === 'commander.helpDisplayed' || error.code === 'commander.version' ? 0 : EXIT_USAGE);
  }
  process.stderr.write(`tierguard: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(EXIT_USAGE);
}
