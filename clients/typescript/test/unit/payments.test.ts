import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { ApiError, MissingTokenError, RateLimitedError } from "../../src/errors.js";
import { pollPayment, PollTimeoutError, retryPayment, startPayment } from "../../src/payments.js";
import { FakeFetch, fakeClient, json, problem, recordingSleep } from "./fake.js";

const ORDER = {
  merchant_order_id: "MO-1",
  checkout_url: "https://pay.example/checkout/MO-1",
  amount: 99900,
  credit: 0,
  currency: "INR",
  state: "PENDING",
  plan: "starter",
  billing_period: "monthly",
  expires_at: "2026-12-05T10:20:00+00:00",
  autopay: false,
};

function status(state: string, pollAfterMs = state === "PENDING" ? 3000 : 0): Response {
  return json(200, {
    merchant_order_id: "MO-1",
    state,
    amount: 99900,
    currency: "INR",
    plan: "starter",
    billing_period: "monthly",
    subscription: null,
    updated_at: "2026-12-05T10:00:00+00:00",
    poll_after_ms: pollAfterMs,
  });
}

describe("startPayment", () => {
  it("sends the plan under a new Idempotency-Key with the caller's token", async () => {
    const fake = new FakeFetch().queue(json(201, ORDER));
    const checkout = await startPayment(fakeClient(fake), { plan: "starter", billing_period: "monthly" }, { token: "tok" });
    assert.equal(checkout.orderId, "MO-1");
    assert.equal(checkout.checkoutUrl, "https://pay.example/checkout/MO-1");
    assert.equal(checkout.idempotencyKey, "key-1");
    const [sent] = fake.seen;
    assert.equal(sent?.method, "POST");
    assert.equal(sent?.url.pathname, "/initiate_payment/");
    assert.equal(sent?.headers.get("Idempotency-Key"), "key-1");
    assert.equal(sent?.headers.get("Authorization"), "Bearer tok");
    assert.deepEqual(sent?.body, { plan: "starter", billing_period: "monthly" });
  });

  it("resends under the same key after a transport failure, a 503 or idempotency_in_flight", async () => {
    const fake = new FakeFetch().queue(
      new TypeError("fetch failed"),
      problem(503, "payment_provider_unavailable", {}, { "Retry-After": "5" }),
      problem(409, "idempotency_in_flight", {}, { "Retry-After": "2" }),
      json(201, ORDER),
    );
    const { waits, sleep } = recordingSleep();
    const client = fakeClient(fake);
    const checkout = await startPayment(client, { plan: "starter", billing_period: "monthly" }, { token: "t", sleep, backoffMs: 400, attempts: 4 });
    assert.equal(checkout.orderId, "MO-1");
    assert.deepEqual(fake.seen.map((s) => s.headers.get("Idempotency-Key")), ["key-1", "key-1", "key-1", "key-1"]);
    assert.deepEqual(waits, [400, 5000, 2000]);
  });

  it("leaves a 429, and a Retry-After longer than maxWaitMs, to the caller", async () => {
    const fake = new FakeFetch().queue(
      problem(429, "rate_limited", {}, { "Retry-After": "1" }),
      problem(503, "payment_provider_unavailable", {}, { "Retry-After": "30" }),
    );
    const { waits, sleep } = recordingSleep();
    const client = fakeClient(fake);
    const input = { plan: "starter", billing_period: "monthly" } as const;
    await assert.rejects(() => startPayment(client, input, { token: "t", sleep }), RateLimitedError);
    await assert.rejects(() => startPayment(client, input, { token: "t", sleep }), (e: unknown) => e instanceof ApiError && e.status === 503);
    assert.deepEqual(waits, []);
    assert.equal(fake.seen.length, 2);
  });

  it("does not resend what the server refused", async () => {
    const fake = new FakeFetch().queue(problem(422, "unknown_plan", { errors: [{ path: "plan", message: "unknown" }] }));
    await assert.rejects(
      () => startPayment(fakeClient(fake), { plan: "starter", billing_period: "monthly" }, { token: "t" }),
      (e: unknown) => e instanceof ApiError && e.code === "unknown_plan",
    );
    assert.equal(fake.seen.length, 1);
  });

  it("gives up after `attempts` tries with the last error", async () => {
    const fake = new FakeFetch().queue(new TypeError("a"), new TypeError("b"));
    const { sleep } = recordingSleep();
    await assert.rejects(
      () => startPayment(fakeClient(fake), { plan: "growth", billing_period: "annual" }, { token: "t", attempts: 2, sleep }),
      /b/,
    );
    assert.equal(fake.seen.length, 2);
  });

  it("the free plan has no order: no order id, no checkout URL", async () => {
    const fake = new FakeFetch().queue(json(200, { state: "COMPLETED", plan: "free", subscription: { plan: "free", status: "active" } }));
    const checkout = await startPayment(fakeClient(fake), { plan: "free", billing_period: "monthly" }, { token: "t" });
    assert.equal(checkout.orderId, null);
    assert.equal(checkout.checkoutUrl, null);
    await assert.rejects(() => checkout.poll({ token: "t" }), /free plan/);
  });
});

describe("retry", () => {
  it("Checkout.retry starts a fresh order for the same plan under a new key; resend keeps the key", async () => {
    const fake = new FakeFetch().queue(json(201, ORDER), json(201, ORDER), json(201, { ...ORDER, merchant_order_id: "MO-2" }));
    const first = await startPayment(fakeClient(fake), { plan: "starter", billing_period: "annual", autopay: true }, { token: "t" });
    const again = await first.resend({ token: "t" });
    const second = await first.retry({ token: "t2" });
    assert.equal(again.idempotencyKey, "key-1");
    assert.equal(second.orderId, "MO-2");
    assert.equal(second.idempotencyKey, "key-2");
    assert.deepEqual(fake.seen.map((s) => s.headers.get("Idempotency-Key")), ["key-1", "key-1", "key-2"]);
    assert.deepEqual(fake.seen[2]?.body, { plan: "starter", billing_period: "annual", autopay: true });
    assert.equal(fake.seen[2]?.headers.get("Authorization"), "Bearer t2");
  });

  it("retryPayment starts from a final status' plan and billing period", async () => {
    const fake = new FakeFetch().queue(status("FAILED"), json(201, { ...ORDER, merchant_order_id: "MO-3" }));
    const client = fakeClient(fake);
    const failed = await pollPayment(client, "MO-1", { token: "t" });
    assert.equal(failed.state, "FAILED");
    const next = await retryPayment(client, failed, { token: "t", workspaceId: "ws-9" });
    assert.equal(next.orderId, "MO-3");
    assert.deepEqual(fake.seen[1]?.body, { plan: "starter", billing_period: "monthly", workspace_id: "ws-9" });
    assert.equal(fake.seen[1]?.headers.get("Idempotency-Key"), "key-1");
  });
});

describe("pollPayment", () => {
  it("waits the server's poll_after_ms, backs off, and stops on the final state", async () => {
    const fake = new FakeFetch().queue(status("PENDING"), status("PENDING"), status("PENDING"), status("COMPLETED"));
    const { waits, sleep } = recordingSleep();
    const seen: string[] = [];
    const final = await pollPayment(fakeClient(fake), "MO-1", { token: "t", sleep, onUpdate: (s) => seen.push(s.state) });
    assert.equal(final.state, "COMPLETED");
    assert.equal(final.poll_after_ms, 0);
    assert.deepEqual(waits, [3000, 4500, 6750]);
    assert.deepEqual(seen, ["PENDING", "PENDING", "PENDING", "COMPLETED"]);
    assert.equal(fake.seen[0]?.url.pathname, "/payment_status/MO-1");
    assert.equal(fake.remaining, 0);
  });

  it("never waits less than the server asks, nor more than maxDelayMs otherwise", async () => {
    const fake = new FakeFetch().queue(status("PENDING", 1000), status("PENDING", 1000), status("PENDING", 1000), status("PENDING", 8000), status("EXPIRED"));
    const { waits, sleep } = recordingSleep();
    const final = await pollPayment(fakeClient(fake), "MO-1", { token: "t", sleep, backoff: 2, maxDelayMs: 3000 });
    assert.equal(final.state, "EXPIRED");
    assert.deepEqual(waits, [1000, 2000, 3000, 8000]);
  });

  for (const state of ["COMPLETED", "FAILED", "EXPIRED", "REFUNDED", "NEEDS_REVIEW"]) {
    it(`stops at once on ${state}`, async () => {
      const fake = new FakeFetch().queue(status(state));
      const { waits, sleep } = recordingSleep();
      assert.equal((await pollPayment(fakeClient(fake), "MO-1", { token: "t", sleep })).state, state);
      assert.deepEqual(waits, []);
    });
  }

  it("waits a 429's Retry-After and goes on", async () => {
    const fake = new FakeFetch().queue(problem(429, "rate_limited", {}, { "Retry-After": "10" }), status("COMPLETED"));
    const { waits, sleep } = recordingSleep();
    assert.equal((await pollPayment(fakeClient(fake), "MO-1", { token: "t", sleep })).state, "COMPLETED");
    assert.deepEqual(waits, [10_000]);
  });

  it("tolerates transport failures up to maxTransportErrors in a row", async () => {
    const fake = new FakeFetch().queue(new TypeError("offline"), new TypeError("offline"), status("COMPLETED"));
    const { waits, sleep } = recordingSleep();
    assert.equal((await pollPayment(fakeClient(fake), "MO-1", { token: "t", sleep })).state, "COMPLETED");
    assert.deepEqual(waits, [1000, 1500]);

    const down = new FakeFetch().queue(new TypeError("1"), new TypeError("2"), new TypeError("3"));
    await assert.rejects(() => pollPayment(fakeClient(down), "MO-1", { token: "t", sleep, maxTransportErrors: 3 }), /3/);
  });

  it("throws other errors (another user's order is 404)", async () => {
    const fake = new FakeFetch().queue(problem(404, "order_not_found"));
    await assert.rejects(
      () => pollPayment(fakeClient(fake), "MO-1", { token: "t" }),
      (e: unknown) => e instanceof ApiError && !(e instanceof RateLimitedError) && e.code === "order_not_found" && e.status === 404,
    );
  });

  it("gives up after timeoutMs with the last status seen", async () => {
    let clock = 0;
    const fake = new FakeFetch().queue(status("PENDING"), status("PENDING"));
    const sleep = async (ms: number) => {
      clock += ms;
    };
    const error = await pollPayment(fakeClient(fake), "MO-1", { token: "t", sleep, now: () => clock, timeoutMs: 5000 }).catch((e: unknown) => e);
    assert.ok(error instanceof PollTimeoutError);
    assert.equal(error.last?.state, "PENDING");
    assert.equal(fake.seen.length, 2); // 3000 ms in, the next wait (4500) would pass the deadline
  });

  it("stops at once when its signal aborts, mid-wait", async () => {
    const fake = new FakeFetch().queue(status("PENDING"), status("COMPLETED"));
    const controller = new AbortController();
    const started = Date.now();
    const polling = pollPayment(fakeClient(fake), "MO-1", { token: "t", signal: controller.signal, onUpdate: () => setTimeout(() => controller.abort(new Error("left the page")), 50) });
    await assert.rejects(polling, /left the page/);
    assert.ok(Date.now() - started < 1000, "the 3 s wait was cut short");
    assert.equal(fake.seen.length, 1);
  });

  it("an error thrown by onUpdate ends the poll, never retried", async () => {
    const fake = new FakeFetch().queue(status("PENDING"), status("COMPLETED"));
    const { waits, sleep } = recordingSleep();
    const onUpdate = (): void => {
      throw new TypeError("the page's own bug");
    };
    await assert.rejects(() => pollPayment(fakeClient(fake), "MO-1", { token: "t", sleep, onUpdate }), /page's own bug/);
    assert.deepEqual(waits, []);
    assert.equal(fake.seen.length, 1);
  });

  it("a missing token ends the poll at once: it is not a transport failure", async () => {
    const fake = new FakeFetch();
    const { waits, sleep } = recordingSleep();
    await assert.rejects(() => pollPayment(fakeClient(fake), "MO-1", { token: "", sleep }), MissingTokenError);
    assert.deepEqual(waits, []);
    assert.equal(fake.seen.length, 0);
  });

  it("an already aborted signal sends nothing", async () => {
    const fake = new FakeFetch();
    await assert.rejects(() => pollPayment(fakeClient(fake), "MO-1", { token: "t", signal: AbortSignal.abort() }));
    assert.equal(fake.seen.length, 0);
  });
});
