// A fake fetch: answers queued in order, every request recorded (method, url, headers, body).
import { BcmClient } from "../../src/client.js";

export interface Seen {
  method: string;
  url: URL;
  headers: Headers;
  body: unknown;
}

export type Answer = Response | Error | ((request: Request) => Response | Promise<Response>);

export function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  const type = status >= 400 ? "application/problem+json" : "application/json";
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": type, ...headers } });
}

export function problem(status: number, code: string, extra: Record<string, unknown> = {}, headers: Record<string, string> = {}): Response {
  return json(status, { type: `urn:bcm:problem:${code}`, title: "Problem", status, detail: `${code} happened`, code, request_id: "req-1", ...extra }, headers);
}

export class FakeFetch {
  readonly seen: Seen[] = [];
  private readonly answers: Answer[] = [];

  queue(...answers: Answer[]): this {
    this.answers.push(...answers);
    return this;
  }

  readonly fetch = async (request: Request): Promise<Response> => {
    const text = await request.text();
    this.seen.push({
      method: request.method,
      url: new URL(request.url),
      headers: request.headers,
      body: text ? JSON.parse(text) : undefined,
    });
    const next = this.answers.shift();
    if (next === undefined) throw new Error(`no answer queued for ${request.method} ${request.url}`);
    if (next instanceof Error) throw next;
    return typeof next === "function" ? next(request) : next;
  };

  get remaining(): number {
    return this.answers.length;
  }
}

export function fakeClient(fake: FakeFetch, keys: string[] = ["key-1", "key-2", "key-3", "key-4"]): BcmClient {
  let n = 0;
  return new BcmClient({
    baseUrl: "https://asia-south1-demo.cloudfunctions.net/",
    fetch: fake.fetch,
    newIdempotencyKey: () => keys[n++] ?? `key-${n}`,
  });
}

/** A sleep that records each wait and returns at once. */
export function recordingSleep(): { waits: number[]; sleep: (ms: number, signal?: AbortSignal) => Promise<void> } {
  const waits: number[] = [];
  return {
    waits,
    sleep: async (ms: number, signal?: AbortSignal) => {
      signal?.throwIfAborted();
      waits.push(ms);
    },
  };
}
