// Types of bench/admitted-objects.mjs, for the tests that import it.

type Labels = Readonly<Record<string, string>>;

export interface BenchObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly namespace: string; readonly labels: Labels };
  readonly spec: Readonly<Record<string, unknown>>;
}

export const benchPod: BenchObject;
export const benchNetworkPolicy: BenchObject;
export const benchDeployment: BenchObject;
