/**
 * A full list of one collection, read in pages (`limit`/`continue`) so that 10,000 namespaces
 * never sit in one response body, each item decoded as it arrives.
 */
import type { KubeClient } from './kube-client.js';

export interface PagedListOptions<T> {
  readonly client: KubeClient;
  /** Collection path, e.g. `/api/v1/namespaces`. */
  readonly path: string;
  /** Keeps what the caller needs of a raw item; undefined skips a malformed one. */
  readonly decode: (raw: unknown) => T | undefined;
  /** Items per page (default 500, as kubectl). */
  readonly pageSize?: number;
  readonly signal?: AbortSignal;
  /** More query parameters for every page, e.g. a field selector. */
  readonly query?: Readonly<Record<string, string>>;
}

export interface PagedList<T> {
  readonly items: T[];
  /** The list's resourceVersion: where a watch continues from. */
  readonly resourceVersion: string;
  /** Items the decoder refused. */
  readonly skipped: number;
}

/** Upper bound on pages (5 million objects at 500 a page): a server that never ends a list is an error. */
export const MAX_PAGES = 10_000;

interface ListBody {
  readonly metadata?: { readonly resourceVersion?: string; readonly continue?: string };
  readonly items?: readonly unknown[];
}

/**
 * Reads every page; an expired continue token (410) or any failure rejects, and the caller lists
 * again from the start.
 */
export async function listAll<T>(options: PagedListOptions<T>): Promise<PagedList<T>> {
  const items: T[] = [];
  let token: string | undefined;
  let resourceVersion = '';
  let skipped = 0;
  for (let page = 0; page < MAX_PAGES; page += 1) {
    const query = { ...options.query, limit: options.pageSize ?? 500, ...(token ? { continue: token } : {}) };
    const body = (await options.client.get(options.path, { query, ...(options.signal ? { signal: options.signal } : {}) })) as ListBody;
    for (const raw of body.items ?? []) {
      const item = options.decode(raw);
      if (item === undefined) skipped += 1;
      else items.push(item);
    }
    resourceVersion = body.metadata?.resourceVersion ?? '';
    token = body.metadata?.continue || undefined;
    if (!token) return { items, resourceVersion, skipped };
  }
  throw new Error(`the list of ${options.path} has more than ${MAX_PAGES} pages`);
}
