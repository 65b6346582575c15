// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const httpModules = ['express', 'http', 'https', 'node:http', 'node:https', 'net', 'node:net'];

/** Modules the pure engine must never import: it receives everything it needs in its input. */
const engineForbidden = [
  ...httpModules,
  'fs', 'node:fs', 'fs/promises', 'node:fs/promises', 'child_process', 'node:child_process',
  '@kubernetes/client-node', 'prom-client', 'node-forge',
];

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'coverage/', 'bench/results/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    // lint-probe.ts never exists on disk: test/lint.test.ts lints text under that name to prove the layer rules.
    languageOptions: { parserOptions: { projectService: { allowDefaultProject: ['src/engine/lint-probe.ts', 'src/review/lint-probe.ts', 'src/admission/lint-probe.ts'] }, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' }],
      complexity: ['error', 20],
      'max-depth': ['error', 4],
    },
  },
  {
    files: ['src/engine/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        paths: engineForbidden.map((name) => ({ name, message: 'src/engine is pure: no I/O, HTTP, Kubernetes client or metrics imports.' })),
        patterns: [{ group: ['**/admission/**', '**/review/**', '**/cli/**', '**/telemetry/**', '**/cluster/**', '**/tls/**', '**/policy/**', '**/config/**'], message: 'src/engine must not depend on outer layers.' }],
      }],
      'no-restricted-globals': ['error', { name: 'process', message: 'src/engine receives its input; it never reads process.' }],
      'no-restricted-properties': ['error', { object: 'Date', property: 'now', message: 'src/engine takes no clock.' }],
    },
  },
  {
    // What a request means, free of transport: the webhook, check and the audit call it.
    files: ['src/review/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        paths: [...httpModules, '@kubernetes/client-node', 'prom-client'].map((name) => ({ name, message: 'src/review is transport-free: no HTTP, Kubernetes client or metrics.' })),
        patterns: [{ group: ['**/admission/**', '**/cli/**', '**/telemetry/**', '**/cluster/**', '**/tls/**', '**/config/**'], message: 'src/review must not depend on the layers that call it.' }],
      }],
    },
  },
  {
    // HTTP only: parse, call the review layer, encode, count. Policy loading and the cluster are not its business.
    files: ['src/admission/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        paths: ['@kubernetes/client-node'].map((name) => ({ name, message: 'src/admission is HTTP only: the cluster is src/cluster\'s.' })),
        patterns: [{ group: ['**/cluster/**', '**/policy/**', '**/cli/**', '**/config/**', '**/tls/**'], message: 'src/admission is HTTP only: it calls src/review and never Cluster or Policy internals.' }],
      }],
    },
  },
  {
    // Tests poke at AdmissionReview JSON whose shape is the point of the assertion.
    files: ['test/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    files: ['**/*.js', '**/*.mjs', 'bench/**'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', Buffer: 'readonly' } },
  },
);
