import * as k from '@kubernetes/client-node';
import { Environment } from '@marcbachmann/cel-js';
const short = (n) => n.replace(/^(Core)?V\d+(beta\d+|alpha\d+)?/, '');
function celType(t, f) {
  if (t === 'string') return 'string';
  if (t === 'boolean') return 'bool';
  if (t === 'number') return (f === 'int32' || f === 'int64') ? 'int' : 'double';
  if (t === 'Date') return 'string';
  if (t === 'IntOrString' || t === 'any' || t === 'object') return 'dyn';
  let m = /^Array<(.+)>$/.exec(t); if (m) return `list<${celType(m[1], f)}>`;
  m = /^\{ \[key: string\]: (.+); \}$/.exec(t); if (m) return `map<string, ${celType(m[1], f)}>`;
  if (k[t]?.getAttributeTypeMap) return 'k8s.' + short(t);
  throw new Error('?' + t);
}
const types = new Map(); const visiting = new Set();
function walk(name){ if (types.has(name)) return; if (visiting.has(name)) throw new Error('cycle '+name); visiting.add(name); const fields = {}; for (const a of k[name].getAttributeTypeMap()){ for (const t of a.type.match(/\b(Core)?V\d\w+/g)??[]) walk(t); fields[a.baseName] = celType(a.type, a.format);} types.set(name, fields); }
for (const r of ['V1Pod','V1Deployment','V1CronJob','V1NetworkPolicy','V1Namespace']) walk(r);
function env(kind) {
  const e = new Environment({ unlistedVariablesAreDyn: false, homogeneousAggregateLiterals: true, enableOptionalTypes: true });
  for (const [n, f] of types) e.registerType('k8s.' + short(n), { fields: f });
  e.registerVariable('object', 'k8s.' + kind); e.registerVariable('oldObject', 'k8s.' + kind); e.registerVariable('namespaceObject', 'k8s.Namespace'); e.registerVariable('request', 'map');
  return e;
}
const exprs = process.argv.slice(3);
const t0 = performance.now(); const e = env(process.argv[2]); console.log('env ms', (performance.now()-t0).toFixed(1), types.size);
for (const x of exprs) { const t1=performance.now(); const r = e.check(x); console.log((performance.now()-t1).toFixed(2), r.valid ? 'OK ' + r.type : 'ERR ' + r.error.message.split('\n').join(' | '), '   <-', x); }
