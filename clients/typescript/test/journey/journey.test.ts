// The client against the real local suite (tests/e2e/test_typescript_client.py serves it and sets
// BCM_BASE_URL): sign in, pay through the PhonePe simulator, poll, the 23 steps, finalize, the manifest,
// rebuild, export. Without BCM_BASE_URL these tests fail: they are never skipped.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { before, describe, it } from "node:test";

import {
  ApiError,
  createBcmClient,
  createBcmStore,
  freshness,
  isProblem,
  OPEN_JOB_STATUSES,
  pollPayment,
  RateLimitedError,
  STALE_AFTER_S,
  startPayment,
  type PaymentInput,
  type PaymentStatus,
} from "../../src/index.js";

function env(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run this through tests/e2e/test_typescript_client.py`);
  return value;
}

const base = env("BCM_BASE_URL");
const client = createBcmClient({ baseUrl: base });

async function signIn(label: string): Promise<{ access_token: string; user_id: string; workspace_id: string }> {
  const response = await fetch(`${base}/_dev/token`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ email: `ts-${label}-${crypto.randomUUID().slice(0, 8)}@example.com` }),
  });
  assert.equal(response.status, 200, await response.clone().text());
  return (await response.json()) as { access_token: string; user_id: string; workspace_id: string };
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => assert.fail("expected the call to be refused"),
    (error: unknown) => error,
  );
}

describe("the freshness rule", () => {
  it("uses the server's constants", () => {
    assert.equal(STALE_AFTER_S, Number(env("BCM_SERVER_STALE_AFTER_S")));
    assert.deepEqual([...OPEN_JOB_STATUSES].sort(), (JSON.parse(env("BCM_SERVER_OPEN_JOB_STATUSES")) as string[]).sort());
  });
});

describe("a founder's journey through the client", () => {
  let token = "";
  let sessionId = "";

  before(async () => {
    token = (await signIn("journey")).access_token;
  });

  it("refuses a bad token with a 401 problem", async () => {
    const error = await rejection(client.getManifest({ token: "not-a-token" }));
    assert.ok(error instanceof ApiError);
    assert.equal(error.status, 401);
    assert.match(error.code, /^token_/);
    assert.ok(error.requestId);
  });

  it("names the bad field of a refused order", async () => {
    const bad = { plan: "platinum", billing_period: "monthly" } as unknown as PaymentInput;
    const error = await rejection(startPayment(client, bad, { token }));
    assert.ok(error instanceof ApiError);
    assert.equal(error.status, 422);
    assert.ok(error.fieldError("plan"), JSON.stringify(error.problem));
  });

  it("pays: a declined order, retry() with a new key, poll until the simulator completes it", async () => {
    const declined = await startPayment(client, { plan: "starter", billing_period: "monthly" }, { token });
    const declinedId = declined.orderId;
    assert.ok(declinedId);
    assert.ok(declined.checkoutUrl?.startsWith(`${base}/_dev/phonepe/checkout/`), declined.checkoutUrl ?? "");
    // The same request under the same key is the same order, replayed.
    assert.equal((await declined.resend({ token })).orderId, declinedId);
    const failing = await fetch(`${base}/_dev/phonepe/orders/${declinedId}/fail?webhook=deliver`, { method: "POST" });
    assert.equal(failing.status, 200);
    const failed = await pollPayment(client, declinedId, { token });
    assert.equal(failed.state, "FAILED");
    assert.equal(failed.poll_after_ms, 0);

    const checkout = await declined.retry({ token });
    const orderId = checkout.orderId;
    assert.ok(orderId);
    assert.notEqual(orderId, declinedId);
    assert.notEqual(checkout.idempotencyKey, declined.idempotencyKey);

    const updates: PaymentStatus[] = [];
    let paid: Promise<Response> | undefined;
    const started = Date.now();
    const final = await checkout.poll({
      token: () => token, // a function is asked before each request, as a page reading its Supabase session would
      onUpdate: (status) => {
        updates.push(status);
        // The customer pays on PhonePe's page once the page is polling.
        paid ??= fetch(`${base}/_dev/phonepe/orders/${orderId}/complete?webhook=deliver`, { method: "POST" });
      },
    });
    assert.equal((await paid)?.status, 200);
    assert.equal(final.state, "COMPLETED");
    assert.equal(final.poll_after_ms, 0);
    assert.equal(final.subscription?.status, "active");
    assert.equal(updates[0]?.state, "PENDING");
    assert.ok((updates[0]?.poll_after_ms ?? 0) > 0);
    assert.ok(Date.now() - started >= (updates[0]?.poll_after_ms ?? 0), "the poll waited what the server asked");

    // Another user's order is not theirs to see.
    const stranger = (await signIn("stranger")).access_token;
    const hidden = await rejection(pollPayment(client, orderId, { token: stranger }));
    assert.ok(isProblem(hidden, "order_not_found"), String(hidden));
  });

  it("saves the 23 steps", async () => {
    const steps = await client.listSteps({ token });
    assert.equal(steps.length, 23);
    const started = await client.startSession({ token });
    sessionId = started.session_id;
    const data = JSON.parse(readFileSync(env("BCM_STEPS_FIXTURE"), "utf8")) as Record<string, Record<string, unknown>>;
    let progress: { complete: number; total: number } | undefined;
    for (const step of steps) {
      const saved = await client.saveStep(sessionId, step.number, { data: data[step.slug] ?? {}, draft: false }, { token });
      progress = saved.progress;
    }
    assert.deepEqual({ complete: progress?.complete, total: progress?.total }, { complete: 23, total: 23 });

    const session = await client.getSession(sessionId, { token });
    const first = session.steps[0];
    assert.ok(first);
    const conflict = await rejection(
      client.saveStep(sessionId, first.number, { data: first.data ?? {}, draft: false, version: first.version + 5 }, { token }),
    );
    assert.ok(isProblem(conflict, "version_conflict"), String(conflict));
    assert.equal(conflict.problem.current_version, first.version);
  });

  it("finalizes, reads the manifest, rebuilds and exports it", async () => {
    const key = client.newIdempotencyKey();
    const finalized = await client.finalize(sessionId, { token, idempotencyKey: key });
    assert.equal(finalized.manifest?.version, "1.0.0");
    assert.deepEqual(await client.finalize(sessionId, { token, idempotencyKey: key }), finalized);

    const store = createBcmStore(client);
    const loaded = await store.fetchManifest({ token });
    assert.ok(loaded.status === "success", JSON.stringify(loaded));
    const manifest = loaded.data;
    assert.equal(manifest.checksum, finalized.manifest?.checksum);
    assert.equal(freshness(manifest, Date.now()), "fresh");
    assert.equal(manifest.freshness.stale, false);

    const job = await store.rebuild({ token, reason: "typescript journey" });
    assert.ok(job.status === "success", JSON.stringify(job));
    assert.ok(OPEN_JOB_STATUSES.includes(job.data.status) || job.data.status === "skipped", job.data.status);
    const reread = store.getState().manifest;
    assert.ok(reread.status === "success");
    // The client's three-way answer and the server's flag agree on the same answer.
    assert.equal(freshness(reread.data, Date.now()) !== "fresh", reread.data.freshness.stale);

    const after = await store.watchRebuild(job.data.job_id, { token, intervalMs: 100, timeoutMs: 20_000 });
    assert.ok(after.status === "success");
    assert.deepEqual(after.data.rebuild, { job_id: job.data.job_id, status: "skipped" }); // nothing changed
    assert.equal(freshness(after.data, Date.now()), "fresh");
    const history = store.getState().history;
    assert.ok(history.status === "success");
    assert.deepEqual(history.data.versions.map((v) => v.version), ["1.0.0"]);

    const exported = await store.exportManifest({ token, format: "markdown" });
    assert.ok(exported.status === "success", JSON.stringify(exported));
    const download = await fetch(exported.data.url);
    assert.equal(download.status, 200);
    assert.ok((await download.text()).includes(manifest.checksum));
  });

  it("surfaces the rate limit as a RateLimitedError with Retry-After", async () => {
    let limited: RateLimitedError | undefined;
    for (let i = 0; i < 15 && limited === undefined; i += 1) {
      try {
        await client.exportManifest({ format: "json" }, { token });
      } catch (error) {
        if (!(error instanceof RateLimitedError)) throw error;
        limited = error;
      }
    }
    assert.ok(limited, "15 exports in a row were all served");
    assert.equal(limited.status, 429);
    assert.ok(["rate_limited", "plan_limit_reached"].includes(limited.code), limited.code);
    assert.ok(limited.retryAfterMs > 0);
  });
});
