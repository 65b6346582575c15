// Baseline server for the tierguard HTTP benchmark.
//
// A minimal node:https server with the same certificate/key and TLS floor as
// tierguard. For every POST it reads the body fully, JSON.parses it and answers
// a fixed "allowed" AdmissionReview echoing request.uid. GET /readyz -> 200.
// This is the floor: TLS + HTTP/1.1 + JSON.parse + a tiny JSON.stringify.
//
// With a patches file (a JSON object: request.kind.kind -> a base64 JSONPatch), a
// POST to /mutate of one of those kinds is also answered with that patch, as
// tierguard answers it when it injects defaults: what the API server itself spends
// applying a webhook's patch (the API-latency section's "bare webhook with
// tierguard's defaults").
//
// Usage: node bench/bare-server.mjs <port> <tls.crt> <tls.key> [patches.json]
import { readFileSync } from 'node:fs';
import https from 'node:https';

const [portArg, certPath, keyPath, patchesPath] = process.argv.slice(2);
const port = Number(portArg);
if (!Number.isInteger(port) || port <= 0 || !certPath || !keyPath) {
  console.error('usage: node bench/bare-server.mjs <port> <tls.crt> <tls.key> [patches.json]');
  process.exit(2);
}
/** @type {Record<string, string> | undefined} (none: the HTTP scenarios' baseline reads nothing more than the uid) */
const patches = patchesPath ? JSON.parse(readFileSync(patchesPath, 'utf8')) : undefined;

const server = https.createServer(
  {
    cert: readFileSync(certPath),
    key: readFileSync(keyPath),
    minVersion: 'TLSv1.2',
  },
  (req, res) => {
    if (req.method === 'GET' && (req.url === '/readyz' || req.url === '/healthz')) {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('ok');
      return;
    }
    if (req.method !== 'POST') {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found');
      return;
    }
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      let uid;
      let patch;
      try {
        const request = JSON.parse(Buffer.concat(chunks).toString('utf8'))?.request;
        uid = request?.uid;
        const kind = patches && req.url?.startsWith('/mutate') ? request?.kind?.kind : undefined;
        if (typeof kind === 'string' && Object.hasOwn(patches, kind)) patch = patches[kind];
      } catch {
        res.writeHead(400, { 'content-type': 'text/plain' });
        res.end('invalid JSON');
        return;
      }
      const body = JSON.stringify({
        apiVersion: 'admission.k8s.io/v1',
        kind: 'AdmissionReview',
        response: patch === undefined ? { uid, allowed: true } : { uid, allowed: true, patchType: 'JSONPatch', patch },
      });
      res.writeHead(200, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(body),
      });
      res.end(body);
    });
    req.on('error', () => res.destroy());
  },
);

server.listen(port, '127.0.0.1');
const shutdown = () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
};
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
