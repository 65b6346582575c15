/** Compiled network rules of guardrails (the shape of ClusterNetworkPolicy v1alpha2). */
import type { LabelSelector } from '../../api/kube.js';
import type { Action } from '../../api/policy.js';
import { compileSelector, type LabelMatcher } from '../selector.js';
import type { IpSet } from './ip-set.js';
import { selectorCube, type LabelCube } from './label-set.js';
import type { PortSet } from './port-set.js';

/** A label selector compiled twice: a matcher for concrete labels, a cube for set reasoning. */
export interface CompiledSelector {
  readonly selector: LabelSelector;
  readonly match: LabelMatcher;
  /** Null when no label set can satisfy the selector. */
  readonly cube: LabelCube | null;
}

export type CompiledSubject =
  | { readonly kind: 'namespaces'; readonly namespaces: CompiledSelector }
  | { readonly kind: 'pods'; readonly namespaces: CompiledSelector; readonly pods: CompiledSelector };

export type CompiledPeer =
  | { readonly kind: 'namespaces'; readonly namespaces: CompiledSelector }
  | { readonly kind: 'pods'; readonly namespaces: CompiledSelector; readonly pods: CompiledSelector }
  | { readonly kind: 'networks'; readonly ips: IpSet; readonly cidrs: readonly string[] }
  | { readonly kind: 'nodes' };

export type Direction = 'ingress' | 'egress';

export interface CompiledNetworkRule {
  /** The rule's name, or its position (`ingress[0]`) when it has none. */
  readonly id: string;
  readonly direction: Direction;
  readonly index: number;
  readonly action: Action;
  readonly peers: readonly CompiledPeer[];
  /** Numbered (protocol, port) pairs the rule covers; all of them when it lists no protocols. */
  readonly ports: PortSet;
  /** `destinationNamedPort` entries, resolved on the destination pod. */
  readonly namedPorts: readonly string[];
}

export interface CompiledNetworkRules {
  readonly subject: CompiledSubject;
  readonly ingress: readonly CompiledNetworkRule[];
  readonly egress: readonly CompiledNetworkRule[];
}

/** Compiles a selector for both concrete matching and set reasoning. */
export function compileBoth(selector: LabelSelector | undefined): CompiledSelector {
  return { selector: selector ?? {}, match: compileSelector(selector), cube: selectorCube(selector) };
}
