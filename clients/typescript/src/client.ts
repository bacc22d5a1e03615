// The typed client: openapi-fetch over the generated paths, the caller's Supabase token on each call,
// every non-2xx thrown as an ApiError (RateLimitedError for 429).
import createClient, { type Client } from "openapi-fetch";

import { MissingTokenError, toApiError } from "./errors.js";
import type { paths } from "./schema.js";
import type {
  ExportLink,
  Finalized,
  InitiatedPayment,
  Manifest,
  PaymentStatus,
  RebuildJob,
  RequestBody,
  Session,
  SessionStart,
  StepInfo,
  StepSaved,
  VersionHistory,
} from "./types.js";

export interface BcmClientOptions {
  /**
   * Where the functions live; every path carries its function's name (`/context/manifest`).
   * Local suite: `http://127.0.0.1:8080`. Production: `https://<region>-<project>.cloudfunctions.net`.
   */
  baseUrl: string;
  /** Defaults to the global fetch. Tests pass a fake. */
  fetch?: (input: Request) => Promise<Response>;
  /** Makes Idempotency-Keys; defaults to crypto.randomUUID(). */
  newIdempotencyKey?: () => string;
}

/**
 * The signed-in user's Supabase access token, or a function returning the current one (asked before each
 * request, so a long poll keeps working across Supabase's hourly refresh).
 */
export type TokenSource = string | (() => string | Promise<string>);

/** What every call takes: the access token, passed each time (the client keeps none). */
export interface CallOptions {
  token: TokenSource;
  signal?: AbortSignal;
  /** A workspace the user is a member of; omitted means their own. */
  workspaceId?: string;
}

/** initiate_payment's body: `plan`, and optionally `billing_period` (monthly), `autopay`, `workspace_id`. */
export type PaymentInput = RequestBody<"initiate_payment.create_order">;

/** A step save: `data`, `draft` (check types and limits only), `version` (the one read; a stale one is 409). */
export type SaveStepInput = RequestBody<"onboarding_step.save_step">;

interface Answer {
  data?: unknown;
  error?: unknown;
  response: Response;
}

async function unwrap<T>(call: Promise<Answer>): Promise<T> {
  const { data, error, response } = await call;
  if (!response.ok) throw toApiError(response, error);
  return data as T;
}

async function auth(source: TokenSource, extra: Record<string, string> = {}): Promise<Record<string, string>> {
  const token = typeof source === "function" ? await source() : source;
  if (!token) throw new MissingTokenError();
  return { Authorization: `Bearer ${token}`, ...extra };
}

function ws(options: CallOptions): { workspace_id?: string } {
  return options.workspaceId ? { workspace_id: options.workspaceId } : {};
}

export class BcmClient {
  /** The raw openapi-fetch client, for routes without a helper; pass `headers: {Authorization}` yourself. */
  readonly api: Client<paths>;
  readonly newIdempotencyKey: () => string;

  constructor(options: BcmClientOptions) {
    this.api = createClient<paths>({
      baseUrl: options.baseUrl.replace(/\/+$/, ""),
      ...(options.fetch ? { fetch: options.fetch } : {}),
    });
    this.newIdempotencyKey = options.newIdempotencyKey ?? (() => globalThis.crypto.randomUUID());
  }

  // --- payments --------------------------------------------------------------------------------

  /** POST /initiate_payment/ under `idempotencyKey`: the same key and body replay the first answer. */
  async initiatePayment(input: PaymentInput, idempotencyKey: string, options: CallOptions): Promise<InitiatedPayment> {
    return unwrap(
      this.api.POST("/initiate_payment/", {
        body: { ...input },
        headers: await auth(options.token, { "Idempotency-Key": idempotencyKey }),
        signal: options.signal,
      }),
    );
  }

  async paymentStatus(merchantOrderId: string, options: CallOptions): Promise<PaymentStatus> {
    return unwrap(
      this.api.GET("/payment_status/{merchant_order_id}", {
        params: { path: { merchant_order_id: merchantOrderId } },
        headers: await auth(options.token),
        signal: options.signal,
      }),
    );
  }

  // --- onboarding ------------------------------------------------------------------------------

  async listSteps(options: CallOptions): Promise<StepInfo> {
    return unwrap(this.api.GET("/onboarding_step/steps", { headers: await auth(options.token), signal: options.signal }));
  }

  /** The active session (201 new, 200 the open one, or a resumed abandoned one). */
  async startSession(options: CallOptions): Promise<SessionStart> {
    return unwrap(
      this.api.POST("/onboarding_step/sessions", {
        body: ws(options),
        headers: await auth(options.token),
        signal: options.signal,
      }),
    );
  }

  async getSession(sessionId: string, options: CallOptions): Promise<Session> {
    return unwrap(
      this.api.GET("/onboarding_step/sessions/{session_id}", {
        params: { path: { session_id: sessionId } },
        headers: await auth(options.token),
        signal: options.signal,
      }),
    );
  }

  async saveStep(sessionId: string, step: number, input: SaveStepInput, options: CallOptions): Promise<StepSaved> {
    return unwrap(
      this.api.PUT("/onboarding_step/sessions/{session_id}/steps/{number}", {
        params: { path: { session_id: sessionId, number: step } },
        body: { ...input },
        headers: await auth(options.token),
        signal: options.signal,
      }),
    );
  }

  /** POST /finalize/{session_id}; a fresh Idempotency-Key unless the caller brings the one to replay. */
  async finalize(sessionId: string, options: CallOptions & { idempotencyKey?: string }): Promise<Finalized> {
    return unwrap(
      this.api.POST("/finalize/{session_id}", {
        params: { path: { session_id: sessionId } },
        body: {},
        headers: await auth(options.token, { "Idempotency-Key": options.idempotencyKey ?? this.newIdempotencyKey() }),
        signal: options.signal,
      }),
    );
  }

  // --- the BCM ---------------------------------------------------------------------------------

  async getManifest(options: CallOptions): Promise<Manifest> {
    return unwrap(
      this.api.GET("/context/manifest", {
        params: { query: ws(options) },
        headers: await auth(options.token),
        signal: options.signal,
      }),
    );
  }

  /** Queue a rebuild (202); one already queued is answered with the same job. */
  async rebuild(input: { reason?: string }, options: CallOptions & { idempotencyKey?: string }): Promise<RebuildJob> {
    return unwrap(
      this.api.POST("/context/rebuild", {
        body: { ...ws(options), ...(input.reason !== undefined ? { reason: input.reason } : {}) },
        headers: await auth(options.token, { "Idempotency-Key": options.idempotencyKey ?? this.newIdempotencyKey() }),
        signal: options.signal,
      }),
    );
  }

  async versionHistory(input: { limit?: number }, options: CallOptions): Promise<VersionHistory> {
    return unwrap(
      this.api.GET("/context/version-history", {
        params: { query: { ...ws(options), ...(input.limit !== undefined ? { limit: input.limit } : {}) } },
        headers: await auth(options.token),
        signal: options.signal,
      }),
    );
  }

  /** A signed, short-lived URL to the manifest as JSON or Markdown. */
  async exportManifest(input: { format?: "json" | "markdown" }, options: CallOptions): Promise<ExportLink> {
    return unwrap(
      this.api.GET("/context/export", {
        params: { query: { ...ws(options), format: input.format ?? "json" } },
        headers: await auth(options.token),
        signal: options.signal,
      }),
    );
  }
}

export function createBcmClient(options: BcmClientOptions): BcmClient {
  return new BcmClient(options);
}
