/**
 * One source of truth for `serve`'s numeric options: the schema and the command line both read
 * `NUMBER_OPTIONS`, so a range or default changed there changes both, and they cannot disagree.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { flagOf, NUMBER_OPTIONS, parseServeOptions } from '../../src/config/options.js';
import { REPO_DIR } from '../helpers/fixtures.js';

const CLI = path.join(REPO_DIR, 'dist', 'cli', 'main.js');

function tierguard(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { cwd: REPO_DIR, timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr });
    });
  });
}

const entries = Object.entries(NUMBER_OPTIONS);
/** How the command line takes a value in milliseconds for this option. */
const typed = (unit: string, ms: number) => (unit === 'duration' ? `${ms}ms` : String(ms));

/** The CA must outlive the certificate: the other of the two is set where any value of this one fits. */
const COMPANIONS: Readonly<Record<string, Record<string, number>>> = {
  certValidityMs: { caValidityMs: NUMBER_OPTIONS.caValidityMs.max },
  caValidityMs: { certValidityMs: NUMBER_OPTIONS.certValidityMs.min },
};

describe('NUMBER_OPTIONS', () => {
  it.each(entries)('%s: the schema takes its default and both ends of its range, and refuses past them', (name, option) => {
    const key = name as keyof typeof NUMBER_OPTIONS;
    const parse = (value: number) => parseServeOptions({ ...COMPANIONS[name], [name]: value })[key];
    expect(parseServeOptions({})[key]).toBe(option.default);
    expect(parse(option.min)).toBe(option.min);
    expect(parse(option.max)).toBe(option.max);
    expect(() => parse(option.max + 1)).toThrow(flagOf(name));
    if (option.min > 0) expect(() => parse(option.min - 1)).toThrow(flagOf(name));
  });

  it('the command line refuses every option past its range with exit 2, naming the flag', async () => {
    const results = await Promise.all(entries.map(async ([name, option]) => ({ name, ...(await tierguard('serve', flagOf(name), typed(option.unit, option.max + 1))) })));
    for (const result of results) {
      expect(result.code, result.name).toBe(2);
      expect(result.stderr, result.name).toContain(flagOf(result.name));
    }
  });

  it('serve --help shows every default as a user types it (durations with their unit)', async () => {
    const { code, stdout } = await tierguard('serve', '--help');
    expect(code).toBe(0);
    const help = stdout.replace(/\s+/g, ' ');
    for (const [name, option] of entries) {
      const shown = option.unit !== 'duration' ? String(option.default)
        : option.default % 86_400_000 === 0 ? `${option.default / 86_400_000}d`
          : option.default % 3_600_000 === 0 ? `${option.default / 3_600_000}h` : `${option.default / 1000}s`;
      expect(help).toMatch(new RegExp(`${flagOf(name)} <[a-z]+> .*?\\(default: ${shown}\\)`));
    }
    expect(help).toContain('(default: 90d)');
    expect(help).toContain('--audit-interval <duration>');
    expect(help).toMatch(/--audit-interval .*?\(default: 1h\)/);
    expect(help).toMatch(/--lease-duration .*?\(default: 15s\)/);
  });
});
