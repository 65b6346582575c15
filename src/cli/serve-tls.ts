/**
 * The webhook's TLS for `serve`: where the serving certificate comes from and how it is kept
 * current, and the hardening every secure context gets.
 *
 * - `--tls-cert`/`--tls-key`: files, re-read when they change (cert-manager, a mounted Secret);
 * - `--tls-secret`: self-managed in the cluster (`cluster/self-managed-certificates.ts`); until
 *   the Secret's certificate is applied a throwaway one is served and `ready()` is false;
 * - neither: a CA and a certificate for localhost made in memory, the CA written to `--ca-out`.
 *
 * TLS 1.2 is the floor, with forward-secret AEAD suites only (Mozilla's "intermediate" list),
 * and `--client-ca` makes the API server's client certificate mandatory.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import type https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { createSecureContext, type SecureContextOptions } from 'node:tls';
import type { KubeConfig } from '@kubernetes/client-node';
import type { ServeOptions } from '../config/options.js';
import { createKubeClient } from '../cluster/kube-client.js';
import { startSelfManagedCertificates } from '../cluster/self-managed-certificates.js';
import { certificateExpiry, generateCertificates, serviceDnsNames, type KeyPair } from '../tls/certs.js';
import { readCertificatePair, watchCertificates } from '../tls/reloader.js';
import type { Logger } from '../telemetry/logger.js';
import type { Metrics } from '../telemetry/metrics.js';

/** TLS 1.3 suites, then ECDHE with AES-GCM or ChaCha20-Poly1305 for TLS 1.2: no CBC, no RSA key exchange. */
export const CIPHERS = [
  'TLS_AES_128_GCM_SHA256', 'TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256',
  'ECDHE-ECDSA-AES128-GCM-SHA256', 'ECDHE-RSA-AES128-GCM-SHA256', 'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384', 'ECDHE-ECDSA-CHACHA20-POLY1305', 'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');

export interface ServingTls {
  /** Options for `https.createServer`. */
  readonly serverOptions: https.ServerOptions;
  /** False while a self-managed certificate is still awaited. */
  ready(): boolean;
  /** Starts keeping `server`'s certificate current; returns the function that stops it. */
  follow(server: https.Server): () => void;
  /** PEM of the CA made in memory, and where it was written, when neither files nor a Secret are used. */
  readonly generatedCa?: string;
  readonly caPath?: string;
}

export interface ServingTlsContext {
  readonly kubeConfig: KubeConfig | undefined;
  readonly logger: Logger;
  readonly metrics: Metrics;
}

export async function servingTls(options: ServeOptions, context: ServingTlsContext): Promise<ServingTls> {
  const clientCa = options.clientCa ? await readClientCa(options.clientCa) : undefined;
  const secureContext = (pair: KeyPair): SecureContextOptions => ({ ...pair, minVersion: 'TLSv1.2', ciphers: CIPHERS, honorCipherOrder: true, ...(clientCa ? { ca: clientCa } : {}) });
  const serverOptions = (pair: KeyPair): https.ServerOptions => ({ ...secureContext(pair), ...(clientCa ? { requestCert: true, rejectUnauthorized: true } : {}) });
  const applyTo = (server: https.Server) => (pair: KeyPair) => {
    server.setSecureContext(secureContext(pair));
    context.metrics.certificateExpiry.set(certificateExpiry(pair.cert).getTime() / 1000);
  };

  if (options.tlsCert && options.tlsKey) {
    const files = { certFile: options.tlsCert, keyFile: options.tlsKey };
    const pair = await readCertificatePair(files).catch((error: Error) => {
      throw new Error(`cannot use --tls-cert ${options.tlsCert} and --tls-key ${options.tlsKey}: ${error.message}`, { cause: error });
    });
    context.metrics.certificateExpiry.set(certificateExpiry(pair.cert).getTime() / 1000);
    return {
      serverOptions: serverOptions(pair),
      ready: () => true,
      follow: (server) => watchCertificates({ ...files, intervalMs: options.certReloadIntervalMs, logger: context.logger, apply: applyTo(server) }, pair),
    };
  }

  const generated = generateCertificates({ dnsNames: unique(['localhost', ...options.dns]), ipAddresses: unique(['127.0.0.1', '::1', ...options.ip]), days: 30 });
  const initial = { cert: generated.cert, key: generated.key };
  if (options.tlsSecret) {
    const { kubeConfig } = context;
    if (!kubeConfig) throw new Error('--tls-secret needs a cluster connection (in-cluster, or --kubeconfig)');
    let certificates: ReturnType<typeof startSelfManagedCertificates> | undefined;
    return {
      serverOptions: serverOptions(initial),
      // The Secret's certificate is served and every named webhook configuration trusts its CA.
      ready: () => certificates?.ready() ?? false,
      follow: (server) => {
        certificates = startSelfManagedCertificates({
          client: createKubeClient({ kubeConfig }),
          namespace: options.namespace,
          secretName: options.tlsSecret!,
          webhookConfigurations: options.webhookConfigurations,
          policy: { caValidityMs: options.caValidityMs, servingValidityMs: options.certValidityMs, renewFraction: 1 / 3, dnsNames: unique([...serviceDnsNames(options.service, options.namespace), ...options.dns]), ipAddresses: unique(options.ip) },
          checkIntervalMs: options.certCheckIntervalMs,
          apply: applyTo(server),
          logger: context.logger,
        });
        return () => certificates?.stop();
      },
    };
  }

  const caPath = options.caOut ?? path.join(os.tmpdir(), 'tierguard', 'ca.crt');
  await mkdir(path.dirname(caPath), { recursive: true });
  await writeFile(caPath, generated.caCert);
  context.logger.info('no --tls-cert given: generated a self-signed CA and a serving certificate for localhost in memory', { caBundle: caPath });
  context.metrics.certificateExpiry.set(certificateExpiry(generated.cert).getTime() / 1000);
  return { serverOptions: serverOptions(initial), ready: () => true, follow: () => () => {}, generatedCa: generated.caCert, caPath };
}

function unique(names: readonly string[]): string[] {
  return [...new Set(names)];
}

async function readClientCa(file: string): Promise<string> {
  try {
    const pem = await readFile(file, 'utf8');
    createSecureContext({ ca: pem });
    if (!pem.includes('-----BEGIN CERTIFICATE-----')) throw new Error('no PEM certificate in it');
    return pem;
  } catch (error) {
    throw new Error(`cannot use --client-ca ${file}: ${(error as Error).message}`, { cause: error });
  }
}
