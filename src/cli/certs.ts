/** `tierguard certs`: writes a development CA and serving certificate for the webhook Service. */
import { access, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { generateCertificates, serviceDnsNames } from '../tls/certs.js';

export interface CertsOptions {
  readonly service: string;
  readonly namespace: string;
  readonly ip: readonly string[];
  readonly dns: readonly string[];
  readonly out: string;
  readonly days: number;
  /** Overwrite existing files; without it an existing file is an error and nothing is written. */
  readonly force: boolean;
}

export const CERT_FILES = { ca: 'ca.crt', cert: 'tls.crt', key: 'tls.key' } as const;

/** Writes ca.crt, tls.crt and tls.key (mode 0600) into `out`; returns the paths written. */
export async function writeCertificates(options: CertsOptions): Promise<string[]> {
  const files = Object.values(CERT_FILES).map((name) => path.join(options.out, name));
  if (!options.force) {
    const existing = (await Promise.all(files.map(async (file) => ((await exists(file)) ? file : undefined)))).filter(Boolean);
    if (existing.length > 0) throw new Error(`refusing to overwrite ${existing.join(', ')} (use --force)`);
  }
  const bundle = generateCertificates({
    dnsNames: [...serviceDnsNames(options.service, options.namespace), ...options.dns],
    ipAddresses: options.ip,
    days: options.days,
  });
  await mkdir(options.out, { recursive: true });
  await writeFile(path.join(options.out, CERT_FILES.ca), bundle.caCert);
  await writeFile(path.join(options.out, CERT_FILES.cert), bundle.cert);
  await writeFile(path.join(options.out, CERT_FILES.key), bundle.key, { mode: 0o600 });
  return files;
}

async function exists(file: string): Promise<boolean> {
  try {
    await access(file);
    return true;
  } catch {
    return false;
  }
}
