import { describe, expect, it } from 'vitest';
import { toCelActivation } from '../../src/engine/cel/index.js';
import { review } from '../helpers/fixtures.js';
import { PAYMENTS_NAMESPACE, run, type FixtureName } from './cel-helpers.js';

/** A fixture's variables, with its object edited and the namespace chosen. */
function variables(fixture: FixtureName, edit: (object: any) => void = () => {}, namespaceObject: unknown = PAYMENTS_NAMESPACE): unknown {
  const { request } = review(fixture);
  const object = structuredClone(request.object);
  edit(object);
  return toCelActivation({ object, oldObject: request.oldObject, request, namespaceObject });
}

const UNLABELLED_NAMESPACE = { metadata: { name: 'sandbox', labels: { 'kubernetes.io/metadata.name': 'sandbox' } } };

// The README examples, verbatim.
const HOST_NETWORK = '!has(object.spec.hostNetwork) || !object.spec.hostNetwork';
const TEMPLATE_HOST_NETWORK = '!has(object.spec.template.spec.hostNetwork) || !object.spec.template.spec.hostNetwork';
const OWNER_LABEL = "namespaceObject.?metadata.?labels[?'tierguard.io/require-owner'].orValue('') != 'true' || object.?metadata.?labels[?'owner'].orValue('') != ''";
const NO_WORLD_INGRESS_TEXT = "!has(object.spec.ingress) || object.spec.ingress.all(r, !has(r.from) || r.from.all(p, !has(p.ipBlock) || p.ipBlock.cidr != '0.0.0.0/0'))";
const NO_WORLD_INGRESS = '!has(object.spec.ingress) || object.spec.ingress.all(r, !has(r.from) || r.from.all(p, !has(p.ipBlock) || cidr(p.ipBlock.cidr).prefixLength() > 0))';

const setIpBlock = (cidr: string) => (np: any) => {
  np.spec.ingress[0].from[1].ipBlock = { cidr };
};

describe('README examples', () => {
  it.each<{ name: string; expression: string; fixture: FixtureName; edit?: (object: any) => void; namespaceObject?: unknown; allowed: boolean }>([
    { name: 'host network: a Pod without it is allowed', expression: HOST_NETWORK, fixture: 'validate-create-pod', allowed: true },
    { name: 'host network: hostNetwork false is allowed', expression: HOST_NETWORK, fixture: 'validate-create-pod', edit: (pod) => (pod.spec.hostNetwork = false), allowed: true },
    { name: 'host network: hostNetwork true is denied', expression: HOST_NETWORK, fixture: 'validate-update-pod', edit: (pod) => (pod.spec.hostNetwork = true), allowed: false },
    { name: 'host network: a Deployment template is checked', expression: TEMPLATE_HOST_NETWORK, fixture: 'validate-create-deployment', edit: (d) => (d.spec.template.spec.hostNetwork = true), allowed: false },
    { name: 'owner label: missing where the namespace requires it', expression: OWNER_LABEL, fixture: 'validate-create-networkpolicy', allowed: false },
    { name: 'owner label: present where required', expression: OWNER_LABEL, fixture: 'validate-create-networkpolicy', edit: (np) => (np.metadata.labels.owner = 'team-payments'), allowed: true },
    { name: 'owner label: empty value where required', expression: OWNER_LABEL, fixture: 'validate-create-networkpolicy', edit: (np) => (np.metadata.labels.owner = ''), allowed: false },
    { name: 'owner label: not required in other namespaces', expression: OWNER_LABEL, fixture: 'validate-create-networkpolicy', namespaceObject: UNLABELLED_NAMESPACE, allowed: true },
    { name: 'no world ingress (text): 10.0.0.0/8 is allowed', expression: NO_WORLD_INGRESS_TEXT, fixture: 'validate-create-networkpolicy', allowed: true },
    { name: 'no world ingress (text): 0.0.0.0/0 is denied', expression: NO_WORLD_INGRESS_TEXT, fixture: 'validate-create-networkpolicy', edit: setIpBlock('0.0.0.0/0'), allowed: false },
    { name: 'no world ingress (text) misses ::/0', expression: NO_WORLD_INGRESS_TEXT, fixture: 'validate-create-networkpolicy', edit: setIpBlock('::/0'), allowed: true },
    { name: 'no world ingress (cidr): 10.0.0.0/8 is allowed', expression: NO_WORLD_INGRESS, fixture: 'validate-create-networkpolicy', allowed: true },
    { name: 'no world ingress (cidr): 0.0.0.0/0 is denied', expression: NO_WORLD_INGRESS, fixture: 'validate-create-networkpolicy', edit: setIpBlock('0.0.0.0/0'), allowed: false },
    { name: 'no world ingress (cidr): ::/0 is denied', expression: NO_WORLD_INGRESS, fixture: 'validate-create-networkpolicy', edit: setIpBlock('::/0'), allowed: false },
    { name: 'no world ingress (cidr): unmasked 192.0.2.1/0 is denied', expression: NO_WORLD_INGRESS, fixture: 'validate-create-networkpolicy', edit: setIpBlock('192.0.2.1/0'), allowed: false },
    { name: 'no world ingress: a policy without ingress is allowed', expression: NO_WORLD_INGRESS, fixture: 'validate-create-networkpolicy', edit: (np) => delete np.spec.ingress, allowed: true },
  ])('$name', ({ expression, fixture, edit, namespaceObject, allowed }) => {
    expect(run(expression, variables(fixture, edit, namespaceObject), { expectBool: true })).toEqual({ ok: true, value: allowed });
  });
});

describe('messageExpression-style string results', () => {
  it.each([
    { name: 'names the object', expression: "'hostNetwork is forbidden for ' + object.kind + ' ' + request.namespace + '/' + object.metadata.name", fixture: 'validate-create-pod' as const, value: 'hostNetwork is forbidden for Pod payments/api-0' },
    { name: 'formats an int', expression: "'replicas ' + string(object.spec.replicas) + ' exceeds 0'", fixture: 'validate-create-deployment' as const, value: 'replicas 1 exceeds 0' },
    { name: 'lists offending CIDRs', expression: "'ingress from ' + object.spec.ingress[0].from.filter(p, has(p.ipBlock)).map(p, p.ipBlock.cidr).join(', ')", fixture: 'validate-create-networkpolicy' as const, value: 'ingress from 10.0.0.0/8' },
  ])('$name', ({ expression, fixture, value }) => {
    expect(run(expression, variables(fixture), { expectString: true })).toEqual({ ok: true, value });
  });

  it('a failing messageExpression is an error (the caller falls back to message)', () => {
    const result = run("'owner ' + object.metadata.labels.owner + ' is not allowed'", variables('validate-create-networkpolicy'), { expectString: true });
    expect(result).toEqual({ ok: false, error: 'no such key: owner (line 1, column 35)' });
  });

  it('a dyn messageExpression that is not a string is an error', () => {
    const result = run('object.spec.replicas', variables('validate-create-deployment'), { expectString: true });
    expect(result).toEqual({ ok: false, error: 'expression must evaluate to string, got int (line 1, column 1)' });
  });
});
