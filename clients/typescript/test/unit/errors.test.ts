import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { ApiError, isProblem, MissingTokenError, parseRetryAfter, RateLimitedError } from "../../src/errors.js";
import { FakeFetch, fakeClient, json, problem } from "./fake.js";

describe("parseRetryAfter", () => {
  it("reads delta-seconds as milliseconds", () => {
    assert.equal(parseRetryAfter("7"), 7000);
    assert.equal(parseRetryAfter(" 0 "), 0);
  });
  it("reads an HTTP date relative to now, never negative", () => {
    const now = Date.parse("2026-12-05T10:00:00Z");
    assert.equal(parseRetryAfter("Sat, 05 Dec 2026 10:00:30 GMT", now), 30_000);
    assert.equal(parseRetryAfter("Sat, 05 Dec 2026 09:00:00 GMT", now), 0);
  });
  it("is undefined when missing or unreadable", () => {
    assert.equal(parseRetryAfter(null), undefined);
    assert.equal(parseRetryAfter("soon"), undefined);
    assert.equal(parseRetryAfter("-3"), undefined);
  });
});

describe("problem+json answers", () => {
  it("a 422 is an ApiError with its code, detail, request id and field errors", async () => {
    const fake = new FakeFetch().queue(
      problem(422, "validation_failed", { errors: [{ path: "plan", message: "required: one of free, starter, growth" }] }),
    );
    const error = await fakeClient(fake)
      .initiatePayment({ plan: "starter", billing_period: "monthly" }, "k", { token: "t" })
      .then(() => assert.fail("expected a rejection"), (e: unknown) => e);
    assert.ok(error instanceof ApiError);
    assert.ok(!(error instanceof RateLimitedError));
    assert.equal(error.status, 422);
    assert.equal(error.code, "validation_failed");
    assert.equal(error.detail, "validation_failed happened");
    assert.equal(error.requestId, "req-1");
    assert.deepEqual(error.errors, [{ path: "plan", message: "required: one of free, starter, growth" }]);
    assert.equal(error.fieldError("plan"), "required: one of free, starter, growth");
    assert.equal(error.fieldError("billing_period"), undefined);
    assert.ok(isProblem(error, "validation_failed"));
    assert.ok(!isProblem(error, "version_conflict"));
  });

  it("keeps a problem's extra fields (current_version on a version conflict)", async () => {
    const fake = new FakeFetch().queue(problem(409, "version_conflict", { current_version: 4 }));
    const error = await fakeClient(fake)
      .saveStep("s1", 3, { data: {}, draft: true, version: 2 }, { token: "t" })
      .catch((e: unknown) => e);
    assert.ok(isProblem(error, "version_conflict"));
    assert.equal(error.problem.current_version, 4);
  });

  it("a 429 is a RateLimitedError with Retry-After and the RateLimit headers parsed", async () => {
    const fake = new FakeFetch().queue(
      problem(429, "rate_limited", {}, {
        "Retry-After": "12",
        "RateLimit-Limit": "10",
        "RateLimit-Remaining": "0",
        "RateLimit-Reset": "12",
        "RateLimit-Policy": "10;w=60",
      }),
    );
    const error = await fakeClient(fake).exportManifest({ format: "json" }, { token: "t" }).catch((e: unknown) => e);
    assert.ok(error instanceof RateLimitedError);
    assert.equal(error.status, 429);
    assert.equal(error.code, "rate_limited");
    assert.equal(error.retryAfterMs, 12_000);
    assert.deepEqual(error.rateLimit, { limit: 10, remaining: 0, resetS: 12, policy: "10;w=60" });
  });

  it("a 503 carries its Retry-After too", async () => {
    const fake = new FakeFetch().queue(problem(503, "payment_provider_unavailable", {}, { "Retry-After": "5" }));
    const error = await fakeClient(fake).getManifest({ token: "t" }).catch((e: unknown) => e);
    assert.ok(error instanceof ApiError);
    assert.equal(error.retryAfterMs, 5000);
  });

  it("a body that is not a problem still becomes an ApiError with an http_<status> code", async () => {
    const fake = new FakeFetch().queue(
      new Response("<html>bad gateway</html>", { status: 502, headers: { "Content-Type": "text/html", "X-Request-Id": "edge-9" } }),
    );
    const error = await fakeClient(fake).getManifest({ token: "t" }).catch((e: unknown) => e);
    assert.ok(error instanceof ApiError);
    assert.equal(error.status, 502);
    assert.equal(error.code, "http_502");
    assert.ok(isProblem(error, "http_502"));
    assert.equal(error.requestId, "edge-9");
    assert.match(error.detail, /bad gateway/);
  });
});

describe("the access token", () => {
  it("is sent as a Bearer token on each call, the one that call was given", async () => {
    const fake = new FakeFetch().queue(json(200, { versions: [] }), json(200, { versions: [] }));
    const client = fakeClient(fake);
    await client.versionHistory({ limit: 5 }, { token: "first" });
    await client.versionHistory({}, { token: "second", workspaceId: "ws-2" });
    assert.equal(fake.seen[0]?.headers.get("Authorization"), "Bearer first");
    assert.equal(fake.seen[1]?.headers.get("Authorization"), "Bearer second");
    assert.equal(fake.seen[0]?.url.href, "https://asia-south1-demo.cloudfunctions.net/context/version-history?limit=5");
    assert.equal(fake.seen[1]?.url.searchParams.get("workspace_id"), "ws-2");
  });

  it("may be a function, asked before each request", async () => {
    const fake = new FakeFetch().queue(json(200, { versions: [] }), json(200, { versions: [] }));
    const client = fakeClient(fake);
    const tokens = ["refreshed-1", "refreshed-2"];
    const token = async (): Promise<string> => tokens.shift() ?? "";
    await client.versionHistory({}, { token });
    await client.versionHistory({}, { token });
    assert.deepEqual(fake.seen.map((s) => s.headers.get("Authorization")), ["Bearer refreshed-1", "Bearer refreshed-2"]);
    await assert.rejects(() => client.versionHistory({}, { token }), MissingTokenError); // it ran dry: nothing sent
    assert.equal(fake.seen.length, 2);
  });

  it("is required: no request goes out without one", async () => {
    const fake = new FakeFetch();
    await assert.rejects(() => fakeClient(fake).getManifest({ token: "" }), MissingTokenError);
    assert.equal(fake.seen.length, 0);
  });
});
