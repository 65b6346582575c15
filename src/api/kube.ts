/** Shapes of the Kubernetes objects tierguard reads. Fields not listed are carried but never interpreted. */

export type Labels = Readonly<Record<string, string>>;

/** metav1.LabelSelector. An empty selector (`{}`) selects everything. */
export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: LabelSelectorRequirement[];
}

export interface LabelSelectorRequirement {
  key: string;
  operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
  values?: string[];
}

/** What tierguard keeps of a Namespace: its name, labels and annotations. */
export interface NamespaceInfo {
  name: string;
  labels: Labels;
  annotations: Labels;
}

/** The label every namespace carries, equal to its name (Kubernetes ≥ 1.21). */
export const NAMESPACE_NAME_LABEL = 'kubernetes.io/metadata.name';

/** A manifest object as read from YAML or an AdmissionReview. */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: {
    name?: string;
    generateName?: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    [key: string]: unknown;
  };
  [key: string]: unknown;
}
