/**
 * Static facts of the Dockerfile and .dockerignore; the image cannot be built here (no Docker
 * engine), so this is what can be checked without one.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_DIR } from '../helpers/fixtures.js';

const dockerfile = readFileSync(path.join(REPO_DIR, 'Dockerfile'), 'utf8');
const instructions = dockerfile.split('\n').map((line) => line.trim()).filter((line) => line !== '' && !line.startsWith('#'));
const froms = instructions.filter((line) => /^FROM\s/i.test(line));
const runtime = instructions.slice(instructions.lastIndexOf(froms.at(-1)!));
const packageJson = JSON.parse(readFileSync(path.join(REPO_DIR, 'package.json'), 'utf8')) as { files: string[]; bin: Record<string, string> };

describe('Dockerfile', () => {
  it('builds in a node:20-bookworm-slim stage and runs on distroless nodejs20 nonroot, both pinned by tag', () => {
    expect(froms).toEqual(['FROM node:20-bookworm-slim AS build', 'FROM gcr.io/distroless/nodejs20-debian12:nonroot']);
    for (const from of froms) expect(from).not.toMatch(/:latest\b/);
  });

  it('installs from the lockfile, builds, and keeps production dependencies only', () => {
    const build = instructions.slice(0, instructions.indexOf(froms[1]!)).join('\n');
    expect(build).toMatch(/RUN npm ci\b/);
    expect(dockerfile).not.toMatch(/npm (install|i)\b/);
    expect(build).toMatch(/npm run build && npm prune --omit=dev/);
    expect(build).toContain('COPY package.json package-lock.json .npmrc ./');
  });

  it('copies what the npm package ships (package.json files) plus production node_modules into the runtime stage', () => {
    for (const file of [...packageJson.files, 'node_modules', 'package.json']) {
      expect(runtime.some((line) => new RegExp(`^COPY --from=build /app/${file}\\b`).test(line)), file).toBe(true);
    }
    expect(runtime.filter((line) => /^RUN\s/.test(line)), 'the runtime stage has no shell to RUN with').toEqual([]);
  });

  it('runs as a numeric non-root user', () => {
    const user = runtime.filter((line) => line.startsWith('USER ')).at(-1);
    expect(user).toBeDefined();
    const [uid] = user!.slice(5).split(':');
    expect(Number(uid)).toBeGreaterThan(0);
  });

  it('starts `tierguard serve` (the package bin) by default', () => {
    expect(runtime).toContain(`ENTRYPOINT ["/nodejs/bin/node", "${packageJson.bin.tierguard}"]`);
    expect(runtime).toContain('CMD ["serve"]');
  });
});

describe('.dockerignore', () => {
  const lines = readFileSync(path.join(REPO_DIR, '.dockerignore'), 'utf8').split('\n').map((line) => line.trim()).filter((line) => line && !line.startsWith('#'));

  it('sends only the build inputs: everything else, local node_modules, dist and keys included, stays out', () => {
    expect(lines[0]).toBe('*');
    const included = lines.filter((line) => line.startsWith('!')).map((line) => line.slice(1).replace(/\/$/, ''));
    expect(included.sort()).toEqual(['.npmrc', 'package-lock.json', 'package.json', 'policies', 'src', 'tsconfig.build.json', 'tsconfig.json']);
    expect(lines).toContain('**/*.key');
  });

  it('includes every file the build stage copies', () => {
    const copied = dockerfile.split('\n').filter((line) => /^COPY (?!--from)/.test(line)).flatMap((line) => line.split(/\s+/).slice(1, -1));
    const included = new Set(lines.filter((line) => line.startsWith('!')).map((line) => line.slice(1).replace(/\/$/, '')));
    expect(copied.filter((file) => !included.has(file))).toEqual([]);
  });
});
