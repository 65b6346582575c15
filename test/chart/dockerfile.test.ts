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
const packageJson = JSON.parse(readFileSync(path.join(REPO_DIR, 'package.json'), 'utf8')) as { files: string[]; bin: Record<string, string>; engines: { node: string }; scripts: { build: string } };

/**
 * Whether a Node major version satisfies the engines range, for the two forms it uses (`^N`,
 * `>=N`, joined by `||`); any other form fails the test rather than being guessed at.
 */
function enginesAdmit(range: string, major: number): boolean {
  return range.split('||').map((part) => part.trim()).some((part) => {
    const match = /^(\^|>=)(\d+)$/.exec(part);
    if (!match) throw new Error(`engines.node part ${part}: only ^N and >=N are understood here`);
    return match[1] === '^' ? major === Number(match[2]) : major >= Number(match[2]);
  });
}

describe('Dockerfile', () => {
  it('builds in a node:22-bookworm-slim stage and runs on distroless nodejs22 nonroot (Node 20 is end of life), both pinned by tag', () => {
    expect(froms).toEqual(['FROM node:22-bookworm-slim AS build', 'FROM gcr.io/distroless/nodejs22-debian12:nonroot']);
    for (const from of froms) expect(from).not.toMatch(/:latest\b/);
  });

  it('builds and runs on the same Node major, which package.json engines admits', () => {
    const majors = froms.map((from) => Number(/(?:node:|nodejs)(\d+)/.exec(from)?.[1]));
    expect(majors).toEqual([22, 22]);
    expect(enginesAdmit(packageJson.engines.node, 22)).toBe(true);
  });

  it('engines still admits the Node 20 development machines and CI run npm ci, build and tests on, and no odd or older major', () => {
    expect(packageJson.engines.node).toBe('^20 || >=22');
    expect(enginesAdmit(packageJson.engines.node, Number(process.versions.node.split('.')[0]))).toBe(true);
    expect([18, 20, 21, 22, 24].map((major) => [major, enginesAdmit(packageJson.engines.node, major)])).toEqual([[18, false], [20, true], [21, false], [22, true], [24, true]]);
  });

  it('installs from the lockfile, builds, and keeps production dependencies only', () => {
    const build = instructions.slice(0, instructions.indexOf(froms[1]!)).join('\n');
    expect(build).toMatch(/RUN npm ci\b/);
    expect(dockerfile).not.toMatch(/npm (install|i)\b/);
    expect(build).toMatch(/npm run build && npm prune --omit=dev/);
    expect(build).toContain('COPY package.json package-lock.json .npmrc ./');
  });

  it('copies every script `npm run build` runs into the build stage', () => {
    const build = instructions.slice(0, instructions.indexOf(froms[1]!));
    const scripts = [...(packageJson.scripts.build.matchAll(/\bnode (\S+)/g))].map((match) => match[1]!);
    expect(scripts).toEqual(['scripts/bundle-client-node.mjs', 'scripts/bundle-cli.mjs']);
    for (const script of scripts) expect(build.some((line) => line.startsWith('COPY ') && line.split(/\s+/).slice(1, -1).includes(script)), script).toBe(true);
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
    expect(included.sort()).toEqual(['.npmrc', 'package-lock.json', 'package.json', 'policies', 'scripts/bundle-cli.mjs', 'scripts/bundle-client-node.mjs', 'src', 'tsconfig.build.json', 'tsconfig.json']);
    expect(lines).toContain('**/*.key');
  });

  it('includes every file the build stage copies', () => {
    const copied = dockerfile.split('\n').filter((line) => /^COPY (?!--from)/.test(line)).flatMap((line) => line.split(/\s+/).slice(1, -1));
    const included = new Set(lines.filter((line) => line.startsWith('!')).map((line) => line.slice(1).replace(/\/$/, '')));
    expect(copied.filter((file) => !included.has(file))).toEqual([]);
  });
});
