import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { createBcmStore, freshness, load, STALE_AFTER_S, type BcmState } from "../../src/bcm.js";
import { ApiError } from "../../src/errors.js";
import { FakeFetch, fakeClient, json, problem, recordingSleep } from "./fake.js";

const CREATED = "2026-11-01T00:00:00+00:00";
const CREATED_MS = Date.parse(CREATED);

function manifest(rebuild: { job_id: string; status: string } | null = null, version = "1.0.0"): Record<string, unknown> {
  return {
    workspace_id: "ws-1",
    version,
    checksum: `sha256:${version}`,
    token_count: 1200,
    manifest: { company: "Acme" },
    created_at: CREATED,
    served_from: "tier1",
    freshness: { age_seconds: 10, stale: rebuild !== null },
    rebuild,
  };
}

describe("freshness", () => {
  it("is fresh up to STALE_AFTER_S whole seconds, stale after (the server's > on whole seconds)", () => {
    assert.equal(STALE_AFTER_S, 2_592_000);
    const m = { created_at: CREATED, rebuild: null };
    assert.equal(freshness(m, CREATED_MS), "fresh");
    assert.equal(freshness(m, CREATED_MS + STALE_AFTER_S * 1000), "fresh");
    assert.equal(freshness(m, CREATED_MS + STALE_AFTER_S * 1000 + 999), "fresh");
    assert.equal(freshness(m, CREATED_MS + (STALE_AFTER_S + 1) * 1000), "stale");
    assert.equal(freshness(m, new Date(CREATED_MS + 90 * 24 * 3600 * 1000)), "stale");
  });

  it("a clock behind the server's is age 0, fresh", () => {
    assert.equal(freshness({ created_at: CREATED }, CREATED_MS - 60_000), "fresh");
  });

  it("is rebuilding while a rebuild is queued or running, whatever the age", () => {
    const old = CREATED_MS + 365 * 24 * 3600 * 1000;
    assert.equal(freshness({ created_at: CREATED, rebuild: { status: "queued" } }, CREATED_MS), "rebuilding");
    assert.equal(freshness({ created_at: CREATED, rebuild: { status: "running" } }, old), "rebuilding");
  });

  it("a finished rebuild leaves the age to decide", () => {
    for (const status of ["succeeded", "failed", "skipped"]) {
      assert.equal(freshness({ created_at: CREATED, rebuild: { status } }, CREATED_MS), "fresh");
      assert.equal(freshness({ created_at: CREATED, rebuild: { status } }, CREATED_MS + 31 * 24 * 3600 * 1000), "stale");
    }
  });
});

describe("load", () => {
  it("turns a result into a success state and a rejection into an error state, never rejecting", async () => {
    assert.deepEqual(await load(async () => 42), { status: "success", data: 42 });
    const failed = await load(async () => {
      throw new Error("boom");
    }, 41);
    assert.equal(failed.status, "error");
    assert.equal(failed.status === "error" && failed.error.message, "boom");
    assert.equal(failed.status === "error" && failed.data, 41);
  });
});

describe("BcmStore", () => {
  it("goes idle -> loading -> success for the manifest and tells its listeners each time", async () => {
    const fake = new FakeFetch().queue(json(200, manifest()));
    const store = createBcmStore(fakeClient(fake));
    const seen: BcmState[] = [];
    const unsubscribe = store.subscribe((s) => seen.push(s));
    assert.equal(store.getState().manifest.status, "idle");
    const result = await store.fetchManifest({ token: "t" });
    unsubscribe();
    assert.deepEqual(seen.map((s) => s.manifest.status), ["loading", "success"]);
    assert.equal(result.status === "success" && result.data.version, "1.0.0");
    assert.equal(store.getState().manifest, result);
    assert.equal(store.getState().history.status, "idle");
    assert.equal(fake.seen[0]?.url.pathname, "/context/manifest");
  });

  it("an error state carries the ApiError and keeps the data it had", async () => {
    const fake = new FakeFetch().queue(json(200, manifest()), problem(503, "drafts_unavailable", {}, { "Retry-After": "3" }));
    const store = createBcmStore(fakeClient(fake));
    await store.fetchManifest({ token: "t" });
    const states: string[] = [];
    store.subscribe((s) => states.push(`${s.manifest.status}:${s.manifest.status !== "idle" && s.manifest.data ? "data" : "none"}`));
    const failed = await store.fetchManifest({ token: "t" });
    assert.deepEqual(states, ["loading:data", "error:data"]);
    assert.ok(failed.status === "error" && failed.error instanceof ApiError);
    assert.equal(failed.status === "error" && failed.error instanceof ApiError && failed.error.retryAfterMs, 3000);
  });

  it("no manifest yet is an error state with code manifest_not_found", async () => {
    const fake = new FakeFetch().queue(problem(404, "manifest_not_found"));
    const state = await createBcmStore(fakeClient(fake)).fetchManifest({ token: "t" });
    assert.ok(state.status === "error" && state.error instanceof ApiError && state.error.code === "manifest_not_found");
  });

  it("rebuild queues a job under an Idempotency-Key, then re-reads the manifest (rebuilding)", async () => {
    const job = { job_id: "job-1", status: "queued" };
    const fake = new FakeFetch().queue(json(202, job), json(200, manifest(job)));
    const store = createBcmStore(fakeClient(fake));
    const state = await store.rebuild({ token: "t", reason: "new pricing", workspaceId: "ws-1" });
    assert.deepEqual(state, { status: "success", data: job });
    assert.deepEqual(fake.seen[0]?.body, { workspace_id: "ws-1", reason: "new pricing" });
    assert.equal(fake.seen[0]?.headers.get("Idempotency-Key"), "key-1");
    const m = store.getState().manifest;
    assert.ok(m.status === "success");
    assert.equal(freshness(m.data, CREATED_MS), "rebuilding");
  });

  it("a refused rebuild is an error state and the manifest is not re-read", async () => {
    const fake = new FakeFetch().queue(problem(429, "plan_limit_reached", { limit_per_day: 3 }, { "Retry-After": "3600" }));
    const store = createBcmStore(fakeClient(fake));
    const state = await store.rebuild({ token: "t" });
    assert.ok(state.status === "error" && state.error instanceof ApiError && state.error.retryAfterMs === 3_600_000);
    assert.equal(store.getState().manifest.status, "idle");
    assert.equal(fake.seen.length, 1);
  });

  it("watchRebuild re-reads until the job is done, then loads the history", async () => {
    const fake = new FakeFetch().queue(
      json(200, manifest({ job_id: "job-1", status: "queued" })),
      json(200, manifest({ job_id: "job-1", status: "running" })),
      json(200, manifest({ job_id: "job-1", status: "succeeded" }, "1.1.0")),
      json(200, { workspace_id: "ws-1", versions: [{ version: "1.1.0" }, { version: "1.0.0" }] }),
    );
    const { waits, sleep } = recordingSleep();
    const store = createBcmStore(fakeClient(fake));
    const final = await store.watchRebuild("job-1", { token: "t", sleep, intervalMs: 100 });
    assert.ok(final.status === "success" && final.data.version === "1.1.0");
    assert.deepEqual(waits, [100, 150]);
    const history = store.getState().history;
    assert.ok(history.status === "success" && history.data.versions.length === 2);
  });

  it("export and history pass their options as query parameters", async () => {
    const link = { url: "https://storage.example/x", expires_at: "2026-12-05T10:15:00+00:00", format: "markdown", version: "1.0.0", filename: "bcm.md" };
    const fake = new FakeFetch().queue(json(200, link), json(200, { workspace_id: "ws-1", versions: [] }));
    const store = createBcmStore(fakeClient(fake));
    assert.deepEqual(await store.exportManifest({ token: "t", format: "markdown" }), { status: "success", data: link });
    await store.fetchHistory({ token: "t", limit: 3 });
    assert.equal(fake.seen[0]?.url.search, "?format=markdown");
    assert.equal(fake.seen[1]?.url.search, "?limit=3");
  });
});
