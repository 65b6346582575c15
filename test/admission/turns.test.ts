/**
 * When the webhook reviews and answers admission POSTs (ADR 18): the requests read in one turn of
 * the event loop are reviewed one after the other, and only then answered; a request read alone is
 * answered at once. A real server cannot be made to read several requests in one turn on demand,
 * so each request here is a stream whose body arrives in a callback of its own, and each response
 * only records what the listener does with it: `fakeRequest` and `recordingResponse`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { stat } from 'node:fs';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { AdmissionHandler } from '../../src/admission/handler.js';
import { allowed, reviewOf } from '../../src/admission/review.js';
import { createWebhookListener } from '../../src/admission/server.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { createMetrics } from '../../src/telemetry/metrics.js';

/**
 * A POST whose body comes in one callback scheduled by `arrive` (by default `setImmediate`), as a
 * socket's data comes in one I/O callback.
 */
function fakeRequest(path: string, body: string, arrive: (deliver: () => void) => void = setImmediate): IncomingMessage {
  const req = Object.assign(new Readable({ read() {} }), { method: 'POST', url: path, headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) } });
  arrive(() => {
    req.push(Buffer.from(body));
    req.push(null);
  });
  return req as unknown as IncomingMessage;
}

/** A response that keeps its status and body, and says when it was ended. */
function recordingResponse(onEnd: (status: number, body: string) => void): ServerResponse {
  let status = 0;
  const res = {
    headersSent: false,
    setHeader: () => res,
    writeHead: (code: number) => {
      status = code;
      return res;
    },
    end: (body?: string) => onEnd(status, body ?? ''),
  };
  return res as unknown as ServerResponse;
}

function admissionBody(uid: string): string {
  return JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { uid } });
}

/** The webhook's listener over a handler that allows every request and notes `review <uid>` in `events`. */
function allowingListener(events: string[]): ReturnType<typeof createWebhookListener> {
  const handler: AdmissionHandler = async (_webhook, body) => {
    const uid = (JSON.parse(body) as { request: { uid: string } }).request.uid;
    events.push(`review ${uid}`);
    return { review: reviewOf(uid, allowed({ patch: [], warnings: [] })), kind: 'Pod' };
  };
  return createWebhookListener({ handler, ready: () => true, maxBodyBytes: 1 << 20, metrics: createMetrics(), logger: silentLogger });
}

describe('admission POSTs read in one turn, and one alone', () => {
  it('are all reviewed before any of them is answered, and each gets its own answer', async () => {
    const events: string[] = [];
    const listener = allowingListener(events);
    const answers = ['a', 'b', 'c'].map((uid) => new Promise<{ status: number; body: string }>((resolve) => {
      listener(fakeRequest('/validate', admissionBody(uid)), recordingResponse((status, body) => {
        events.push(`answer ${uid}`);
        resolve({ status, body });
      }));
    }));
    const answered = await Promise.all(answers);
    expect(events).toEqual(['review a', 'review b', 'review c', 'answer a', 'answer b', 'answer c']);
    expect(answered.map(({ status, body }) => [status, (JSON.parse(body) as { response: { uid: string; allowed: boolean } }).response])).toEqual([
      [200, { uid: 'a', allowed: true }],
      [200, { uid: 'b', allowed: true }],
      [200, { uid: 'c', allowed: true }],
    ]);
  });

  it('one request read alone is answered in the turn of the loop that read it', async () => {
    const events: string[] = [];
    const listener = allowingListener(events);
    // The body comes in an I/O callback, as a socket's does. An immediate set there runs at the end
    // of this turn; one set by that immediate runs at the end of the next turn.
    let nextTurn!: Promise<void>;
    const inIoCallback = (deliver: () => void): void => {
      nextTurn = new Promise<void>((resolve) => {
        stat(import.meta.filename, () => {
          deliver();
          setImmediate(() => setImmediate(() => {
            events.push('end of the next turn');
            resolve();
          }));
        });
      });
    };
    const answered = new Promise<string>((resolve) => {
      listener(fakeRequest('/validate', admissionBody('alone'), inIoCallback), recordingResponse((_status, text) => {
        events.push('answer alone');
        resolve(text);
      }));
    });
    expect(JSON.parse(await answered)).toMatchObject({ response: { uid: 'alone', allowed: true } });
    await nextTurn;
    expect(events).toEqual(['review alone', 'answer alone', 'end of the next turn']);
  });
});
