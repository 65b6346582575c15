/** Enumerations of the tierguard.dev/v1alpha1 policy language shared by the schema, the engine and the CLI. */

export const modes = ['Enforce', 'Warn', 'Audit'] as const;
/** `Enforce` denies, `Warn` allows with a warning, `Audit` allows and only counts and logs. */
export type Mode = (typeof modes)[number];

/**
 * Kinds a label or CEL rule can target; `Pod` also covers the pod templates of workloads, and
 * `Namespace` means the Namespace objects themselves (their own labels are the namespace labels).
 */
export const ruleResources = ['Pod', 'NetworkPolicy', 'Namespace'] as const;
export type RuleResource = (typeof ruleResources)[number];

export const actions = ['Accept', 'Deny', 'Pass'] as const;
export type Action = (typeof actions)[number];

export const failureModes = ['deny', 'allow'] as const;
/** What happens to a request when a rule cannot be evaluated. */
export type FailureMode = (typeof failureModes)[number];
