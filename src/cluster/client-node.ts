/**
 * The parts of client-node tierguard uses, KubeConfig and Watch, through one module.
 *
 * `npm run build` bundles this module's output with the library's own files
 * (scripts/bundle-client-node.mjs); the library's dependencies stay in node_modules. The library
 * ships as ES modules in about 2,600 files, and its configuration module imports all of its
 * generated API: loaded file by file, that took 0.72–0.82 s of CPU at every start with a cluster,
 * against 0.2 s bundled. Tests of the source load the library as it is.
 */
export { KubeConfig } from '@kubernetes/client-node/dist/config.js';
export { Watch } from '@kubernetes/client-node/dist/watch.js';
