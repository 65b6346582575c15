/**
 * Keeps the HTTPS server's certificate in step with its files: polls them, and when they change
 * (a Secret update swaps both), validates the new pair and swaps the server's secure context
 * without a restart. A half-written or mismatched pair is logged and the old one stays in use.
 */
import { readFile } from 'node:fs/promises';
import { createSecureContext, type SecureContextOptions } from 'node:tls';
import type { Logger } from '../telemetry/logger.js';

export interface CertificateFiles {
  readonly certFile: string;
  readonly keyFile: string;
}

export interface CertificateReloaderOptions extends CertificateFiles {
  readonly intervalMs: number;
  readonly apply: (pair: { cert: string; key: string }) => void;
  readonly logger: Logger;
}

export async function readCertificatePair(files: CertificateFiles): Promise<{ cert: string; key: string }> {
  const [cert, key] = await Promise.all([readFile(files.certFile, 'utf8'), readFile(files.keyFile, 'utf8')]);
  createSecureContext({ cert, key } satisfies SecureContextOptions);
  return { cert, key };
}

/** Starts polling; returns a function that stops it. */
export function watchCertificates(options: CertificateReloaderOptions, initial: { cert: string; key: string }): () => void {
  let current = initial;
  let busy = false;
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    readCertificatePair(options)
      .then((pair) => {
        if (pair.cert === current.cert && pair.key === current.key) return;
        options.apply(pair);
        current = pair;
        options.logger.info('serving certificate reloaded', { certFile: options.certFile });
      })
      .catch((error: Error) => {
        options.logger.warn('certificate files not reloaded; keeping the current pair', { error: error.message });
      })
      .finally(() => { busy = false; });
  }, options.intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
