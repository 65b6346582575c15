import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const TEST_DIR = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
export const REPO_DIR = path.dirname(TEST_DIR);

/** A captured AdmissionReview from `test/fixtures/admission-reviews/` (real API server bodies). */
export function review(name: string): any {
  return JSON.parse(readFileSync(path.join(TEST_DIR, 'fixtures', 'admission-reviews', `${name}.json`), 'utf8'));
}

export function fixturePath(...parts: string[]): string {
  return path.join(TEST_DIR, 'fixtures', ...parts);
}

/** Decodes a response's base64 JSONPatch. */
export function decodePatch(response: { patch?: string }): unknown[] {
  return response.patch ? JSON.parse(Buffer.from(response.patch, 'base64').toString('utf8')) : [];
}
