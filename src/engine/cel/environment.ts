/**
 * The one CEL environment every tierguard expression is compiled in: the ValidatingAdmissionPolicy
 * variables, optional syntax, the structural limits, and the Kubernetes functions the library
 * lacks. Built on first use (building it is the expensive part), never at import time.
 */
import { Environment } from '@marcbachmann/cel-js';
import { installDeadlineHook } from './deadline.js';
import { CEL_LIMITS } from './limits.js';
import { registerNetworkFunctions } from './network-functions.js';
import { registerRegexFunctions } from './regex.js';
import { registerStringFunctions } from './strings.js';
import { registerTimestampFunctions } from './timestamps.js';

/**
 * The variables an expression may use, with their declared types. Any other identifier is a
 * compile error. `oldObject` is null on CREATE and `namespaceObject` for cluster-scoped
 * objects, so both are `dyn` like `object`; `request` is always a map.
 */
export const CEL_VARIABLES = Object.freeze({
  object: 'dyn',
  oldObject: 'dyn',
  request: 'map',
  namespaceObject: 'dyn',
} as const);

export type CelVariableName = keyof typeof CEL_VARIABLES;

let environment: Environment | undefined;

/**
 * An environment with the options, limits and functions of every tierguard expression, and no
 * variables: the runtime environment below and the typed checking ones (./typed.ts) start here.
 */
export function newCelEnvironment(): Environment {
  const { maxExpressionLength: _, ...limits } = CEL_LIMITS;
  const env = new Environment({
    unlistedVariablesAreDyn: false,
    homogeneousAggregateLiterals: true,
    enableOptionalTypes: true,
    limits,
  });
  registerStringFunctions(env);
  registerRegexFunctions(env);
  registerNetworkFunctions(env);
  registerTimestampFunctions(env);
  return env;
}

function buildEnvironment(): Environment {
  const env = newCelEnvironment();
  for (const [name, type] of Object.entries(CEL_VARIABLES)) env.registerVariable(name, type);
  installDeadlineHook(env);
  return env;
}

export function celEnvironment(): Environment {
  environment ??= buildEnvironment();
  return environment;
}
