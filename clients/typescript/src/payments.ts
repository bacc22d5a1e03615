// Paying for a plan: start an order (its Idempotency-Key kept for resends), poll it to a final state,
// and start a fresh order when it failed or expired.
import type { BcmClient, CallOptions, PaymentInput } from "./client.js";
import { ApiError, isProblem } from "./errors.js";
import { OPEN_PAYMENT_STATES, type InitiatedPayment, type PaymentStatus } from "./types.js";
import { isTransportError, sleep as realSleep, type Sleep } from "./util.js";

export interface RetryOptions {
  /** Tries in all for one request before its error is thrown (default 3). */
  attempts?: number;
  /** A Retry-After longer than this is not waited for: the error is thrown (default 10 s). */
  maxWaitMs?: number;
  /** The wait after a transport failure without Retry-After, doubled each time (default 500 ms). */
  backoffMs?: number;
  sleep?: Sleep;
}

export interface PollOptions extends CallOptions {
  /** Called with every answer, the final one included. */
  onUpdate?: (status: PaymentStatus) => void;
  /** Never wait longer than this between two polls, unless the server asks for more (default 30 s). */
  maxDelayMs?: number;
  /** Each wait is this many times the previous one, never below the server's poll_after_ms (default 1.5). */
  backoff?: number;
  /** Give up after this long with a PollTimeoutError (default 15 minutes). */
  timeoutMs?: number;
  /** Transport failures in a row tolerated before the last one is thrown (default 5). */
  maxTransportErrors?: number;
  sleep?: Sleep;
  now?: () => number;
}

/** Polling gave up before the order reached a final state; `last` is the last answer seen. */
export class PollTimeoutError extends Error {
  override readonly name = "PollTimeoutError";
  constructor(readonly last: PaymentStatus | undefined) {
    super("the payment did not reach a final state in time");
  }
}

export function isFinalPaymentState(state: string): boolean {
  return !(OPEN_PAYMENT_STATES as readonly string[]).includes(state);
}

function retryable(error: unknown): boolean {
  return isTransportError(error) || (error instanceof ApiError && error.status === 503) || isProblem(error, "idempotency_in_flight");
}

/**
 * Send one request with its key, again on a transport failure, a 503 or 409 idempotency_in_flight: the key
 * makes a resend safe (the server replays the first answer, or runs it once). A 429 is the caller's to show.
 */
async function withRetries<T>(send: () => Promise<T>, signal: AbortSignal | undefined, retry: RetryOptions): Promise<T> {
  const attempts = retry.attempts ?? 3;
  const sleep = retry.sleep ?? realSleep;
  let wait = retry.backoffMs ?? 500;
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await send();
    } catch (error) {
      if (attempt >= attempts || !retryable(error) || signal?.aborted) throw error;
      const asked = error instanceof ApiError ? error.retryAfterMs : undefined;
      if (asked !== undefined && asked > (retry.maxWaitMs ?? 10_000)) throw error;
      await sleep(asked ?? wait, signal);
      wait *= 2;
    }
  }
}

/** One order being paid for: what initiate_payment answered and the key it was sent under. */
export class Checkout {
  constructor(
    private readonly client: BcmClient,
    readonly input: PaymentInput,
    readonly idempotencyKey: string,
    readonly order: InitiatedPayment,
  ) {}

  /** null for the free plan (active at once, no order). */
  get orderId(): string | null {
    const id = (this.order as { merchant_order_id?: unknown }).merchant_order_id;
    return typeof id === "string" ? id : null;
  }

  /** Where to send the customer (PhonePe's page or the `upi://mandate` link); null for the free plan. */
  get checkoutUrl(): string | null {
    const url = (this.order as { checkout_url?: unknown }).checkout_url;
    return typeof url === "string" ? url : null;
  }

  /** The same request under the same key: the server's first answer again, never a second order. */
  resend(options: CallOptions): Promise<Checkout> {
    return this.client.initiatePayment(this.input, this.idempotencyKey, options).then(
      (order) => new Checkout(this.client, this.input, this.idempotencyKey, order),
    );
  }

  poll(options: PollOptions): Promise<PaymentStatus> {
    const id = this.orderId;
    if (id === null) return Promise.reject(new Error("the free plan has no order to poll"));
    return pollPayment(this.client, id, options);
  }

  /** A fresh order for the same plan, under a new key (after FAILED or EXPIRED, or a changed mind). */
  retry(options: CallOptions & RetryOptions): Promise<Checkout> {
    return startPayment(this.client, this.input, options);
  }
}

/** Start paying for `input` under a new Idempotency-Key; transport failures are resent under the same key. */
export async function startPayment(
  client: BcmClient,
  input: PaymentInput,
  options: CallOptions & RetryOptions,
): Promise<Checkout> {
  const key = client.newIdempotencyKey();
  const order = await withRetries(() => client.initiatePayment(input, key, options), options.signal, options);
  return new Checkout(client, input, key, order);
}

/**
 * A fresh order for what `previous` was for: a PaymentStatus (its plan and billing period) or the original
 * input. Always a new Idempotency-Key, so the server makes a new order instead of replaying the old one.
 */
export function retryPayment(
  client: BcmClient,
  previous: PaymentInput | PaymentStatus,
  options: CallOptions & RetryOptions & { autopay?: boolean },
): Promise<Checkout> {
  const p = previous as { plan: PaymentInput["plan"]; billing_period: PaymentInput["billing_period"]; autopay?: boolean };
  const input: PaymentInput = { plan: p.plan, billing_period: p.billing_period };
  const autopay = options.autopay ?? p.autopay;
  if (autopay !== undefined) input.autopay = autopay;
  if (options.workspaceId) input.workspace_id = options.workspaceId;
  return startPayment(client, input, options);
}

/**
 * Ask payment_status until the order is final (COMPLETED, FAILED, EXPIRED, REFUNDED, NEEDS_REVIEW).
 *
 * Waits at least the server's `poll_after_ms` between asks and backs off from there (x`backoff`, capped at
 * `maxDelayMs`); a 429 or 503 waits its Retry-After; transport failures are tolerated up to
 * `maxTransportErrors` in a row; any other error (401, 404...) is thrown. Aborting `signal` rejects with
 * its reason at once.
 */
export async function pollPayment(client: BcmClient, merchantOrderId: string, options: PollOptions): Promise<PaymentStatus> {
  const sleep = options.sleep ?? realSleep;
  const now = options.now ?? Date.now;
  const maxDelay = options.maxDelayMs ?? 30_000;
  const factor = options.backoff ?? 1.5;
  const deadline = now() + (options.timeoutMs ?? 15 * 60_000);
  const maxTransport = options.maxTransportErrors ?? 5;
  let delay = 0;
  let transportErrors = 0;
  let last: PaymentStatus | undefined;
  for (;;) {
    options.signal?.throwIfAborted();
    let status: PaymentStatus | undefined;
    let wait = delay;
    try {
      status = await client.paymentStatus(merchantOrderId, options);
    } catch (error) {
      if (options.signal?.aborted) throw options.signal.reason;
      if (error instanceof ApiError && (error.status === 429 || error.status === 503)) {
        wait = Math.max(error.retryAfterMs ?? 1000, delay);
      } else if (isTransportError(error) && ++transportErrors < maxTransport) {
        delay = Math.min(maxDelay, Math.max(1000, delay * factor));
        wait = delay;
      } else {
        throw error;
      }
    }
    if (status !== undefined) {
      transportErrors = 0;
      last = status;
      options.onUpdate?.(status); // outside the try: an error of the page's own is thrown, never retried
      if (isFinalPaymentState(status.state)) return status;
      const asked = status.poll_after_ms > 0 ? status.poll_after_ms : 1000;
      delay = Math.max(asked, Math.min(maxDelay, delay * factor));
      wait = delay;
    }
    if (now() + wait > deadline) throw new PollTimeoutError(last);
    await sleep(wait, options.signal);
  }
}
