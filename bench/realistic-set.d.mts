// Types of bench/realistic-set.mjs, for the tests that import it.

export interface RealisticSetOptions {
  seed?: number | string;
  guardrails?: number;
  namespaces?: number;
  mix?: { network?: number; labels?: number; cel?: number };
  celPerGuardrail?: number;
  /** Exactly `network` network guardrails (subject) and `labels` label guardrails can apply to objects in `namespace`. */
  applying?: { namespace?: string; network?: number; labels?: number };
}

export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist'; values?: string[] }[];
}

export interface GeneratedObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  spec?: any;
}

export interface RealisticSetStats {
  tiers: number;
  guardrails: number;
  network: number;
  labels: number;
  cel: number;
  celExpressions: number;
  namespaces: number;
  rules: number;
  actions: { Accept: number; Deny: number; Pass: number };
  peers: { namespaces: number; pods: number; networks: number };
  distinctSelectors: number;
  cidrs: number;
  distinctCidrs: number;
  protocols: number;
  distinctProtocols: number;
  subjectNamespaceShare: { median: number | null; max: number | null };
  labelNamespaceShare: { median: number | null; max: number | null };
  applying: { namespace: string; network: number; labels: number; cel: number };
}

/** What the whole organisation agrees on: label vocabularies, fixed defaults, cost centres. */
export interface Organisation {
  /** Per label key, the values guardrails' value lists are drawn from (in full or with the key's default). */
  vocabulary: Record<string, string[]>;
  /** Per label key, the fixed default; every value list and pattern of that key accepts it. */
  defaults: Record<string, string>;
  /** The cost centres namespaces are booked to (`payments`: cc-4410). */
  costCentres: string[];
}

export interface RealisticSet {
  options: Required<Omit<RealisticSetOptions, 'applying'>> & Pick<RealisticSetOptions, 'applying'>;
  organisation: Organisation;
  tiers: GeneratedObject[];
  guardrails: GeneratedObject[];
  namespaces: GeneratedObject[];
  files: Record<string, GeneratedObject[]>;
  stats: RealisticSetStats;
}

export const FILES: readonly string[];
export const DEFAULTS: Readonly<Required<Omit<RealisticSetOptions, 'applying'>>> & { applying: undefined };
export function createRng(seed: number | string, stream?: string): {
  next(): number;
  int(min: number, max: number): number;
  pick<T>(items: readonly T[]): T;
  chance(p: number): boolean;
  weighted<T>(pairs: readonly (readonly [T, number])[]): T;
  shuffle<T>(items: readonly T[]): T[];
  sample<T>(items: readonly T[], k: number): T[];
};
export function selectorMatches(selector: LabelSelector | undefined, labels: Record<string, string>): boolean;
export function generateRealisticSet(options?: RealisticSetOptions): RealisticSet;
export function writeRealisticSet(dir: string, set: RealisticSet): string[];
