import https from 'node:https';

export interface BytesAnswer {
  readonly status: number;
  readonly contentType: string;
  readonly text: string;
  /** True when the request went over a connection an earlier request had used (keep-alive). */
  readonly reusedSocket: boolean;
}

export interface PostBytesOptions {
  readonly agent: https.Agent;
  readonly port: number;
  readonly path: string;
  readonly body: Buffer;
  /** Undefined: no Content-Type header. */
  readonly contentType: string | undefined;
  /** Send Content-Length (else the body is sent chunked). */
  readonly contentLength: boolean;
  /** The request fails with `no answer within N ms` after this long (a hang, not a slow answer). */
  readonly timeoutMs: number;
}

/**
 * One POST of raw bytes to 127.0.0.1 through `agent` (which carries the CA and keep-alive), with a
 * hard deadline so that a server that never answers fails the test instead of stalling it.
 */
export function postBytes(options: PostBytesOptions): Promise<BytesAnswer> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = {};
    if (options.contentType !== undefined) headers['content-type'] = options.contentType;
    if (options.contentLength) headers['content-length'] = options.body.length;
    const req = https.request({ host: '127.0.0.1', port: options.port, method: 'POST', path: options.path, servername: 'localhost', agent: options.agent, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, contentType: String(res.headers['content-type'] ?? ''), text: Buffer.concat(chunks).toString('utf8'), reusedSocket: req.reusedSocket });
      });
      res.on('error', reject);
    });
    const timer = setTimeout(() => req.destroy(new Error(`no answer within ${options.timeoutMs} ms`)), options.timeoutMs);
    req.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    req.end(options.body);
  });
}
