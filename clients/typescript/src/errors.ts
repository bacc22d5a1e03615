// problem+json answers as typed errors.
import type { components, operations } from "./schema.js";

/** The problem body as the spec describes it (RFC 9457 plus `code`, `errors` and `request_id`). */
export type ProblemBody = components["schemas"]["Problem"];

type ProblemOf<R> = R extends { content: { "application/problem+json": infer P } } ? P : never;
type CodeOf<P> = P extends { code?: infer C } ? Exclude<C, undefined> : never;

/** The codes one operation's problem answers list in the spec (`OperationProblemCode<"payment_status.get_status">`). */
export type OperationProblemCode<Op extends keyof operations> = {
  [S in keyof operations[Op]["responses"]]: CodeOf<ProblemOf<operations[Op]["responses"][S]>>;
}[keyof operations[Op]["responses"]];

type ListedCodes = { [Op in keyof operations]: OperationProblemCode<Op> }[keyof operations];

/**
 * A problem's stable `code`: the union of string literals the spec lists across its operations
 * (docs/openapi.json); `string` for a spec that lists none.
 */
export type ProblemCode = [ListedCodes] extends [never] ? ProblemBody["code"] : ListedCodes;

/** An ApiError's code: the problem's, or `http_<status>` for an answer that was not a problem (a proxy's page). */
export type ErrorCode = ProblemCode | `http_${number}`;

/** One bad field of a 4xx: where (`data.name`, `plan`...) and why. */
export interface FieldError {
  path: string;
  message: string;
}

/** The `RateLimit-*` headers the server sends on every rate-limited route. */
export interface RateLimitInfo {
  limit?: number;
  remaining?: number;
  resetS?: number;
  policy?: string;
}

/**
 * `Retry-After` as milliseconds to wait: delta-seconds (what this server sends) or an HTTP date.
 * Missing or unreadable is `undefined`; a date in the past is 0.
 */
export function parseRetryAfter(value: string | null | undefined, now: number = Date.now()): number | undefined {
  if (value == null) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const at = /[A-Za-z]/.test(text) ? Date.parse(text) : Number.NaN;
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}

function headerInt(headers: Headers, name: string): number | undefined {
  const raw = headers.get(name);
  return raw != null && /^\d+$/.test(raw.trim()) ? Number(raw.trim()) : undefined;
}

export function rateLimitOf(headers: Headers): RateLimitInfo {
  const policy = headers.get("RateLimit-Policy");
  return {
    limit: headerInt(headers, "RateLimit-Limit"),
    remaining: headerInt(headers, "RateLimit-Remaining"),
    resetS: headerInt(headers, "RateLimit-Reset"),
    ...(policy != null ? { policy } : {}),
  };
}

/** A call without an access token: nothing was sent (not a transport failure, never retried). */
export class MissingTokenError extends Error {
  override readonly name = "MissingTokenError";
  constructor() {
    super("a Supabase access token is required for this call");
  }
}

/** Any non-2xx answer. `problem` is the whole body, extra fields included (`current_version`...). */
export class ApiError extends Error {
  override readonly name: string = "ApiError";
  readonly status: number;
  readonly code: ErrorCode;
  readonly title: string;
  readonly detail: string;
  readonly errors: readonly FieldError[];
  readonly requestId: string | undefined;
  /** From `Retry-After`, when the answer carried one (429, 503, 409 idempotency_in_flight). */
  readonly retryAfterMs: number | undefined;
  readonly problem: Readonly<Record<string, unknown>>;

  constructor(status: number, problem: Record<string, unknown>, headers: Headers) {
    const detail = typeof problem.detail === "string" ? problem.detail : "";
    const title = typeof problem.title === "string" ? problem.title : `HTTP ${status}`;
    super(detail ? `${title}: ${detail}` : title);
    this.status = status;
    // A body that is not a problem (a proxy's HTML page) still gets a code a caller can switch on.
    this.code = typeof problem.code === "string" ? (problem.code as ProblemCode) : `http_${status}`;
    this.title = title;
    this.detail = detail;
    this.errors = Array.isArray(problem.errors) ? problem.errors.filter(isFieldError) : [];
    this.requestId =
      typeof problem.request_id === "string" ? problem.request_id : (headers.get("X-Request-Id") ?? undefined);
    this.retryAfterMs = parseRetryAfter(headers.get("Retry-After"));
    this.problem = problem;
  }

  /** The message for one field (`errors[].path`), if the server named it. */
  fieldError(path: string): string | undefined {
    return this.errors.find((e) => e.path === path)?.message;
  }
}

/** 429: over the rate limit (`rate_limited`) or the plan's daily allowance (`plan_limit_reached`). */
export class RateLimitedError extends ApiError {
  override readonly name: string = "RateLimitedError";
  /** How long to wait before trying again; the server always sends Retry-After on a 429 (1 s if it did not). */
  override readonly retryAfterMs: number;
  readonly rateLimit: RateLimitInfo;

  constructor(problem: Record<string, unknown>, headers: Headers) {
    super(429, problem, headers);
    this.retryAfterMs = parseRetryAfter(headers.get("Retry-After")) ?? 1000;
    this.rateLimit = rateLimitOf(headers);
  }
}

function isFieldError(value: unknown): value is FieldError {
  if (typeof value !== "object" || value === null) return false;
  const v = value as Record<string, unknown>;
  return typeof v.path === "string" && typeof v.message === "string";
}

/** The typed error for a non-2xx `response` whose body openapi-fetch has read as `body`. */
export function toApiError(response: Response, body: unknown): ApiError {
  const problem: Record<string, unknown> =
    typeof body === "object" && body !== null && !Array.isArray(body)
      ? (body as Record<string, unknown>)
      : { detail: typeof body === "string" ? body.slice(0, 500) : "" };
  if (response.status === 429) return new RateLimitedError(problem, response.headers);
  return new ApiError(response.status, problem, response.headers);
}

/** Narrows an unknown error to an ApiError with one of `codes`. */
export function isProblem<C extends ErrorCode>(error: unknown, ...codes: C[]): error is ApiError & { code: C } {
  return error instanceof ApiError && (codes.length === 0 || (codes as ErrorCode[]).includes(error.code));
}
