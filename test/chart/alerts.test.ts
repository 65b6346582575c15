/**
 * The chart's PrometheusRule alerts under `promtool test rules` (Prometheus 2.42, Debian's
 * package), rendered by the real Helm with the chart's defaults: each alert fires on series that
 * should fire it, with its labels, and stays quiet on series that should not. A test that expects
 * the wrong thing must fail, so one case is run inverted and promtool must refuse it.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, expect, it } from 'vitest';
import { parseAllDocuments, stringify } from 'yaml';
import { describePrometheus, PROMTOOL } from '../helpers/describe-prometheus.js';
import { helm } from '../helpers/helm.js';
import { runCommand } from '../helpers/managed-process.js';

const RELEASE = 'tierguard';
const NAMESPACE = 'security';

interface Rendered {
  readonly job: string;
  readonly rules: unknown;
}

/** The chart rendered with its ServiceMonitor and PrometheusRule on: the rule groups and the scrape job's name. */
async function render(): Promise<Rendered> {
  const result = await helm(['template', RELEASE, 'charts/tierguard', '--namespace', NAMESPACE,
    '--set', 'metrics.serviceMonitor.enabled=true', '--set', 'metrics.prometheusRule.enabled=true',
    '--set', 'image.repository=registry.example.com/tierguard', '--set', 'image.tag=0.1.0']);
  if (result.code !== 0) throw new Error(`helm template failed: ${result.stderr}`);
  const objects = parseAllDocuments(result.stdout).map((doc) => doc.toJS()).filter(Boolean);
  const rule = objects.find((object) => object.kind === 'PrometheusRule');
  const service = objects.find((object) => object.kind === 'Service' && object.spec.ports.some((port: { name: string }) => port.name === 'metrics'));
  return { job: service.metadata.name, rules: { groups: rule.spec.groups } };
}

interface AlertCase {
  readonly alert: string;
  /** Series in promtool's notation, one sample a minute. */
  readonly series: Record<string, string>;
  readonly at: string;
  /** The alerts expected at `at`: their labels (exp_labels); empty for none. */
  readonly fires: readonly Record<string, string>[];
}

function cases(job: string): AlertCase[] {
  const ns = `namespace="${NAMESPACE}"`;
  const denials = (guardrail: string) => `tierguard_admission_violations_total{${ns},webhook="validate",kind="Pod",tier="security",guardrail="${guardrail}",rule="label:team",mode="Enforce",dry_run="false"}`;
  return [
    { alert: 'TierguardDown', series: { [`up{job="${job}",${ns},instance="a"}`]: '0x10' }, at: '6m', fires: [{ severity: 'critical' }] },
    { alert: 'TierguardDown', series: { [`up{job="${job}",${ns},instance="a"}`]: '1x10' }, at: '6m', fires: [] },
    // a day at 0.05/s, then 2/s for 30 minutes: above 0.1/s and above 5 times the day's average
    { alert: 'TierguardDenialsSpike', series: { [denials('team-label')]: '0+3x1440 4320+120x30' }, at: '1470m', fires: [{ severity: 'warning', tier: 'security', guardrail: 'team-label' }] },
    // 2/s all day long: high, but usual for this guardrail
    { alert: 'TierguardDenialsSpike', series: { [denials('team-label')]: '0+120x1470' }, at: '1470m', fires: [] },
    { alert: 'TierguardWebhookErrors', series: { [`tierguard_admission_errors_total{${ns},webhook="validate",reason="rule_error"}`]: '0+6x30' }, at: '20m', fires: [{ severity: 'warning', webhook: 'validate', reason: 'rule_error' }] },
    { alert: 'TierguardWebhookErrors', series: { [`tierguard_admission_errors_total{${ns},webhook="validate",reason="rule_error"}`]: '5x30' }, at: '20m', fires: [] },
    {
      alert: 'TierguardHighLatency',
      series: {
        [`tierguard_admission_duration_seconds_bucket{${ns},webhook="validate",kind="Pod",le="0.1"}`]: '0x30',
        [`tierguard_admission_duration_seconds_bucket{${ns},webhook="validate",kind="Pod",le="1"}`]: '0+60x30',
        [`tierguard_admission_duration_seconds_bucket{${ns},webhook="validate",kind="Pod",le="+Inf"}`]: '0+60x30',
      },
      at: '20m',
      fires: [{ severity: 'warning', webhook: 'validate' }],
    },
    {
      alert: 'TierguardHighLatency',
      series: {
        [`tierguard_admission_duration_seconds_bucket{${ns},webhook="validate",kind="Pod",le="0.1"}`]: '0+60x30',
        [`tierguard_admission_duration_seconds_bucket{${ns},webhook="validate",kind="Pod",le="1"}`]: '0+60x30',
        [`tierguard_admission_duration_seconds_bucket{${ns},webhook="validate",kind="Pod",le="+Inf"}`]: '0+60x30',
      },
      at: '20m',
      fires: [],
    },
    // expires one day after the epoch the test starts at: within the 7 days of the default
    { alert: 'TierguardCertificateExpiring', series: { [`tierguard_tls_certificate_expiry_timestamp_seconds{${ns},instance="a"}`]: '86400x30' }, at: '20m', fires: [{ severity: 'warning' }] },
    { alert: 'TierguardCertificateExpiring', series: { [`tierguard_tls_certificate_expiry_timestamp_seconds{${ns},instance="a"}`]: '8640000x30' }, at: '20m', fires: [] },
    { alert: 'TierguardPolicyReloadFailing', series: { [`tierguard_policy_reloads_total{${ns},result="failure"}`]: '0 0 0 1 1 1 1 1 1 1' }, at: '5m', fires: [{ severity: 'warning' }] },
    { alert: 'TierguardPolicyReloadFailing', series: { [`tierguard_policy_reloads_total{${ns},result="failure"}`]: '1x30', [`tierguard_policy_reloads_total{${ns},result="success"}`]: '0+1x30' }, at: '20m', fires: [] },
  ];
}

type Rules = { groups: { name: string; rules: { alert: string; labels?: Record<string, string>; annotations?: Record<string, string> }[] }[] };

/** The rules without their annotations: promtool compares an alert's annotations too, and the cases are about when alerts fire. */
function withoutAnnotations(rules: unknown): Rules {
  const { groups } = rules as Rules;
  return { groups: groups.map((group) => ({ ...group, rules: group.rules.map(({ annotations: _annotations, ...rule }) => rule) })) };
}

/**
 * Writes the rules and one promtool test per case into a fresh directory; returns the test file.
 * `annotations` keeps the rules' annotations, and the cases must then give them (exp_annotations).
 */
function promtoolTests(rendered: Rendered, list: readonly AlertCase[], annotations?: Record<string, string>): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tierguard-alerts-'));
  writeFileSync(path.join(dir, 'rules.yaml'), stringify(annotations ? rendered.rules : withoutAnnotations(rendered.rules)));
  const tests = list.map((test) => ({
    interval: '1m',
    input_series: Object.entries(test.series).map(([series, values]) => ({ series, values })),
    alert_rule_test: [{ eval_time: test.at, alertname: test.alert, exp_alerts: test.fires.map((labels) => ({ exp_labels: labels, ...(annotations ? { exp_annotations: annotations } : {}) })) }],
  }));
  const file = path.join(dir, 'tests.yaml');
  writeFileSync(file, stringify({ rule_files: ['rules.yaml'], evaluation_interval: '1m', tests }));
  return file;
}

/** promtool test rules, which checks exp_labels against the alert's whole label set: the rule's own labels are filled in here. */
function withRuleLabels(list: readonly AlertCase[], rendered: Rendered): AlertCase[] {
  const rules = (rendered.rules as Rules).groups.flatMap((group) => group.rules);
  return list.map((test) => {
    const own = rules.find((rule) => rule.alert === test.alert)?.labels ?? {};
    return { ...test, fires: test.fires.map((labels) => ({ alertname: test.alert, ...own, ...labels })) };
  });
}

describePrometheus('the chart\'s alerts under promtool test rules', () => {
  let rendered: Rendered;
  beforeAll(async () => {
    rendered = await render();
  });

  it('fires each alert on series that should fire it, with its labels, and stays quiet otherwise', async () => {
    const list = cases(rendered.job);
    const alerts = (rendered.rules as Rules).groups.flatMap((group) => group.rules.map((rule) => rule.alert));
    // every alert the chart ships has a case that fires it and one that does not
    expect(new Set(list.filter((test) => test.fires.length > 0).map((test) => test.alert))).toEqual(new Set(alerts));
    expect(new Set(list.filter((test) => test.fires.length === 0).map((test) => test.alert))).toEqual(new Set(alerts));
    const result = await runCommand({ command: PROMTOOL!, args: ['test', 'rules', promtoolTests(rendered, withRuleLabels(list, rendered))] });
    expect(result.stdout + result.stderr).toContain('SUCCESS');
    expect(result.code).toBe(0);
  });

  it('words a denial spike with the guardrail, the rate and the factor', async () => {
    const spike = withRuleLabels(cases(rendered.job), rendered).find((test) => test.alert === 'TierguardDenialsSpike' && test.fires.length > 0)!;
    const result = await runCommand({ command: PROMTOOL!, args: ['test', 'rules', promtoolTests(rendered, [spike], {
      summary: 'Guardrail security/team-label denies far more requests than usual.',
      description: "2 Enforce denials per second, more than 5× the guardrail's 1-day average: a rollout or a policy change is being blocked. See the tierguard_admission_violations_total series and the webhook's logs for the objects.",
    })] });
    expect(result.stdout + result.stderr).toContain('SUCCESS');
    expect(result.code).toBe(0);
  });

  it('fails a case that expects the wrong thing (the harness can fail)', async () => {
    const [down] = cases(rendered.job);
    const inverted = { ...down!, fires: [] };
    const result = await runCommand({ command: PROMTOOL!, args: ['test', 'rules', promtoolTests(rendered, [inverted])] });
    expect(result.code).not.toBe(0);
    expect(result.stdout + result.stderr).toContain('TierguardDown');
  });
});
