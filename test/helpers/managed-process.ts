/**
 * TEST INFRASTRUCTURE — child processes that tests start (etcd, kube-apiserver, tierguard) and
 * that must never outlive the test run.
 *
 * Every process is tracked: `stop()` ends it (SIGTERM, SIGKILL after a grace period) and waits for
 * its exit; on this process's `exit` the ones still alive get SIGKILL; and a small detached reaper
 * holding the read end of a pipe kills them when this process dies any other way (SIGKILL, a crash
 * of the vitest worker), because the pipe then closes. Output goes to a log file and is kept in
 * memory for `tail()` in error messages.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import net from 'node:net';

export interface ManagedProcess {
  readonly name: string;
  readonly pid: number;
  readonly logFile: string;
  /** Resolves when the process has exited, with its exit code (null when killed by a signal). */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  alive(): boolean;
  /** Everything written to stdout and stderr so far. */
  output(): string;
  /** The last `lines` lines of output, for error messages. */
  tail(lines?: number): string;
  /** SIGTERM, SIGKILL after `graceMs` (default 5 s); resolves once the process has exited. */
  stop(graceMs?: number): Promise<void>;
}

export interface SpawnOptions {
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly logFile: string;
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
}

const alive = new Set<ChildProcess>();
let reaper: ChildProcess | undefined;

// Runs detached and reads lines "+p PID", "-p PID", "+d DIR", "-d DIR"; when its stdin closes
// (the test process is gone, however it ended) it SIGKILLs the processes and removes the directories.
const REAPER = `
const sets = { p: new Set(), d: new Set() }; let rest = ''; process.stdin.setEncoding('utf8');
process.stdin.on('data', (d) => { rest += d; const lines = rest.split('\\n'); rest = lines.pop();
  for (const l of lines) { const set = sets[l[1]]; if (set) (l[0] === '+' ? set.add(l.slice(3)) : set.delete(l.slice(3))); } });
process.stdin.on('end', () => {
  for (const p of sets.p) { try { process.kill(Number(p), 'SIGKILL'); } catch {} }
  setTimeout(() => { for (const d of sets.d) { try { require('fs').rmSync(d, { recursive: true, force: true }); } catch {} } process.exit(0); }, 500);
});`;

function tell(line: string): void {
  if (!reaper) {
    reaper = spawn(process.execPath, ['-e', REAPER], { stdio: ['pipe', 'ignore', 'ignore'], detached: true });
    reaper.unref();
    reaper.stdin?.on('error', () => undefined);
    (reaper.stdin as unknown as net.Socket).unref();
    process.once('exit', () => {
      for (const child of alive) child.kill('SIGKILL');
    });
  }
  reaper.stdin?.write(`${line}\n`);
}

/**
 * Has `dir` removed if this process dies before `release(dir)` (normal cleanup removes it itself).
 * Directory names must not contain a newline.
 */
export function removeOnDeath(dir: string): { release(): void } {
  tell(`+d ${dir}`);
  return { release: () => tell(`-d ${dir}`) };
}

/** Starts `command` with stdout and stderr going to `logFile` (and memory), tracked until it exits. */
export function spawnManaged(options: SpawnOptions): ManagedProcess {
  const child = spawn(options.command, [...options.args], { cwd: options.cwd, env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
  const log = createWriteStream(options.logFile, { flags: 'a' });
  const chunks: string[] = [];
  let spawnError: Error | undefined;
  for (const stream of [child.stdout, child.stderr]) {
    stream?.setEncoding('utf8');
    stream?.on('data', (chunk: string) => { chunks.push(chunk); log.write(chunk); });
  }
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('error', (error) => { spawnError = error; });
    child.once('close', (code, signal) => {
      alive.delete(child);
      if (child.pid) tell(`-p ${child.pid}`);
      if (spawnError) chunks.push(`\n${options.name}: ${spawnError.message}\n`);
      log.end();
      resolve({ code, signal });
    });
  });
  alive.add(child);
  if (child.pid) tell(`+p ${child.pid}`);
  const output = () => chunks.join('');
  const running = () => child.exitCode === null && child.signalCode === null && !spawnError;
  return {
    name: options.name,
    pid: child.pid ?? -1,
    logFile: options.logFile,
    exited,
    alive: running,
    output,
    tail: (lines = 30) => output().trimEnd().split('\n').slice(-lines).join('\n'),
    async stop(graceMs = 5000) {
      if (!alive.has(child)) return void (await exited);
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** A TCP port free on 127.0.0.1 right now (bind port 0, read it, close): pick it just before use. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export { waitFor, type WaitOptions } from './wait-for.js';

/** Whether something accepts TCP connections on 127.0.0.1:`port`. */
export function isListening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => { socket.destroy(); resolve(true); });
    socket.once('error', () => resolve(false));
  });
}

export interface CommandResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface CommandOptions {
  readonly command: string;
  readonly args: readonly string[];
  /** Written to stdin, which is then closed. */
  readonly input?: string;
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
  /** Killed (SIGKILL) after this many ms; default 120 s. The result then has code -1. */
  readonly timeoutMs?: number;
}

/** Runs a short command to completion and collects its output; never rejects for a non-zero exit. */
export function runCommand(options: CommandOptions): Promise<CommandResult> {
  return new Promise((resolve) => {
    const child = spawn(options.command, [...options.args], { cwd: options.cwd, env: options.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    alive.add(child);
    const out: string[] = [];
    const err: string[] = [];
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => out.push(chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => err.push(chunk));
    const timer = setTimeout(() => {
      err.push(`\n${options.command}: killed after ${options.timeoutMs ?? 120_000} ms\n`);
      child.kill('SIGKILL');
    }, options.timeoutMs ?? 120_000);
    child.once('error', (error) => err.push(`${options.command}: ${error.message}\n`));
    child.once('close', (code) => {
      clearTimeout(timer);
      alive.delete(child);
      resolve({ code: code ?? -1, stdout: out.join(''), stderr: err.join('') });
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(options.input ?? '');
  });
}
