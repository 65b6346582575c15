/**
 * Hot reload of `--config` files and directories, with or without a cluster.
 *
 * Polls rather than `fs.watch`: a ConfigMap volume is updated by swapping a `..data` symlink,
 * which inotify-based watches on the files themselves miss, and `fs.watch` is not recursive on
 * Linux with Node 20. Each poll lists the manifest files and stats them (inode, size, mtime,
 * ctime, following symlinks); only when that fingerprint changes are the files read and parsed
 * again. One poll at a time, one timer, so the cost is bounded by the files given.
 *
 * A changed fingerprint is loaded only once it has held still from one poll to the next and
 * through the read: a file rewritten in place passes through empty and half-written states
 * that may well be valid — an empty file, or the first documents of a multi-document file, is
 * a weaker set — and loading one would lift guardrails until the next poll. So a reload takes
 * one to two intervals, and a writer that pauses longer than an interval can still be caught
 * half-way: write policy files atomically (rename), as ConfigMap volumes do. The first read at
 * start is not delayed.
 */
import { stat } from 'node:fs/promises';
import { manifestFiles, readManifests, type ManifestSet } from '../policy/manifests.js';
import type { Logger } from '../telemetry/logger.js';

export interface ConfigFilesOptions {
  /** Files and directories, as given to `--config`. */
  readonly paths: readonly string[];
  /** Time between polls, in ms (default 2000). */
  readonly intervalMs?: number;
  readonly logger: Logger;
  /** The parsed manifests: once at start, then after every change on disk. */
  readonly onChange: (manifests: ManifestSet) => void;
}

export interface ConfigFilesWatch {
  /** Resolves after the first poll: the files were read, or the failure was logged, or they changed while being read (the next poll retries). */
  readonly firstRead: Promise<void>;
  /** Ends polling; no timer is left behind. */
  stop(): void;
}

/**
 * @example
 * const files = watchConfigFiles({ paths: ['/etc/tierguard'], logger, onChange: (m) => source.update('files', m) });
 */
export function watchConfigFiles(options: ConfigFilesOptions): ConfigFilesWatch {
  const intervalMs = options.intervalMs ?? 2000;
  let fingerprint: string | undefined;
  /** A changed fingerprint seen at the last poll, waiting to be seen once more before it is loaded. */
  let pending: string | undefined;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;

  async function poll(): Promise<void> {
    const current = await fingerprintOf(options.paths);
    if (stopped) return;
    if (current === fingerprint) {
      pending = undefined;
      return;
    }
    if (fingerprint !== undefined && current !== pending) {
      pending = current;
      return;
    }
    const manifests = await readManifests(options.paths);
    const after = await fingerprintOf(options.paths);
    if (stopped) return;
    if (after !== current) {
      pending = after;
      return;
    }
    if (fingerprint !== undefined) options.logger.info('policy files changed on disk; reloading', { paths: options.paths });
    fingerprint = current;
    options.onChange(manifests);
  }

  // Errors are logged and the next poll tries again (a first read that fails leaves the set unloaded).
  const pollThenWait = (): Promise<void> => poll()
    .catch((error: Error) => options.logger.error('cannot poll the policy files', { error: error.message }))
    .finally(() => {
      if (!stopped) timer = setTimeout(() => void pollThenWait(), intervalMs);
    });

  const firstRead = pollThenWait();
  return {
    firstRead,
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}

/** One line per file (`path inode size mtime ctime`) or per path that cannot be read. */
async function fingerprintOf(paths: readonly string[]): Promise<string> {
  const { files, problems } = await manifestFiles(paths);
  const lines = problems.map((problem) => `! ${problem.source.file} ${problem.message}`);
  for (const file of files) {
    try {
      const info = await stat(file, { bigint: true });
      lines.push(`${file} ${info.ino} ${info.size} ${info.mtimeNs} ${info.ctimeNs}`);
    } catch (error) {
      lines.push(`! ${file} ${(error as Error).message}`);
    }
  }
  return lines.join('\n');
}
