// The Business Context Manifest for a page: fetch, rebuild, export and history as plain-data states
// (idle, loading, error, success) a UI renders, and the manifest's freshness by the server's rule.
import type { BcmClient, CallOptions } from "./client.js";
import type { ExportLink, Manifest, RebuildJob, VersionHistory } from "./types.js";
import { sleep as realSleep, type Sleep } from "./util.js";

/** A manifest older than this is stale (the server's STALE_AFTER_S, lib/services/bcm/reads.py). */
export const STALE_AFTER_S = 30 * 24 * 3600;
/** Rebuild jobs in these states will still produce a version (the server's OPEN_JOB_STATUSES). */
export const OPEN_JOB_STATUSES: readonly string[] = ["queued", "running"];

export type Freshness = "fresh" | "stale" | "rebuilding";

/** What `freshness` reads of GET /context/manifest's answer. */
export interface FreshnessInput {
  created_at: string;
  rebuild?: { status: string } | null;
}

/**
 * The server's rule (GET /context/manifest's `freshness.stale`), split in three: "rebuilding" while a
 * rebuild is queued or running, "stale" when the version is more than STALE_AFTER_S whole seconds old,
 * else "fresh". `stale: false` from the server is always "fresh" here, and `stale: true` one of the others.
 */
export function freshness(manifest: FreshnessInput, now: Date | number): Freshness {
  if (manifest.rebuild != null && OPEN_JOB_STATUSES.includes(manifest.rebuild.status)) return "rebuilding";
  const nowMs = typeof now === "number" ? now : now.getTime();
  const ageS = Math.max(0, Math.floor((nowMs - Date.parse(manifest.created_at)) / 1000));
  return ageS > STALE_AFTER_S ? "stale" : "fresh";
}

/** One request's state as plain data; `data` is kept while a reload runs or after it failed. */
export type Loadable<T> =
  | { readonly status: "idle" }
  | { readonly status: "loading"; readonly data?: T }
  | { readonly status: "error"; readonly error: Error; readonly data?: T }
  | { readonly status: "success"; readonly data: T };

export const IDLE: Loadable<never> = Object.freeze({ status: "idle" });

/** Runs `request`; resolves to its success or error state, never rejects. */
export async function load<T>(request: () => Promise<T>, previous?: T): Promise<Loadable<T>> {
  try {
    return { status: "success", data: await request() };
  } catch (error) {
    const err = error instanceof Error ? error : new Error(String(error));
    return previous === undefined ? { status: "error", error: err } : { status: "error", error: err, data: previous };
  }
}

export interface BcmState {
  manifest: Loadable<Manifest>;
  history: Loadable<VersionHistory>;
  rebuild: Loadable<RebuildJob>;
  export: Loadable<ExportLink>;
}

export type Listener = (state: BcmState) => void;

function dataOf<T>(state: Loadable<T>): T | undefined {
  return state.status === "idle" ? undefined : state.data;
}

/**
 * The manifest page's state, framework-free: `getState()` and `subscribe()` fit React's
 * useSyncExternalStore (a new object on every change), and each action resolves to its new part.
 */
export class BcmStore {
  private state: BcmState = { manifest: IDLE, history: IDLE, rebuild: IDLE, export: IDLE };
  private readonly listeners = new Set<Listener>();

  constructor(private readonly client: BcmClient) {}

  getState = (): BcmState => this.state;

  subscribe = (listener: Listener): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  private set<K extends keyof BcmState>(key: K, value: BcmState[K]): void {
    this.state = { ...this.state, [key]: value };
    for (const listener of this.listeners) listener(this.state);
  }

  private async run<K extends keyof BcmState>(
    key: K,
    request: () => Promise<BcmState[K] extends Loadable<infer T> ? T : never>,
  ): Promise<BcmState[K]> {
    type T = BcmState[K] extends Loadable<infer U> ? U : never;
    const previous = dataOf(this.state[key] as Loadable<T>);
    this.set(key, (previous === undefined ? { status: "loading" } : { status: "loading", data: previous }) as BcmState[K]);
    const next = (await load<T>(request, previous)) as BcmState[K];
    this.set(key, next);
    return next;
  }

  fetchManifest(options: CallOptions): Promise<Loadable<Manifest>> {
    return this.run("manifest", () => this.client.getManifest(options));
  }

  fetchHistory(options: CallOptions & { limit?: number }): Promise<Loadable<VersionHistory>> {
    const input = options.limit !== undefined ? { limit: options.limit } : {};
    return this.run("history", () => this.client.versionHistory(input, options));
  }

  /** Queue a rebuild, then re-read the manifest (its freshness is "rebuilding" until the job ends). */
  async rebuild(options: CallOptions & { reason?: string }): Promise<Loadable<RebuildJob>> {
    const input = options.reason !== undefined ? { reason: options.reason } : {};
    const job = await this.run("rebuild", () => this.client.rebuild(input, options));
    if (job.status === "success") await this.fetchManifest(options);
    return job;
  }

  exportManifest(options: CallOptions & { format?: "json" | "markdown" }): Promise<Loadable<ExportLink>> {
    const input = options.format !== undefined ? { format: options.format } : {};
    return this.run("export", () => this.client.exportManifest(input, options));
  }

  /**
   * Re-read the manifest until rebuild `jobId` is no longer queued or running (or has aged out of the
   * answer), then refresh the history: the manifest and history states end on what the rebuild left.
   */
  async watchRebuild(
    jobId: string,
    options: CallOptions & { intervalMs?: number; maxIntervalMs?: number; timeoutMs?: number; sleep?: Sleep },
  ): Promise<Loadable<Manifest>> {
    const sleep = options.sleep ?? realSleep;
    let interval = options.intervalMs ?? 1000;
    const deadline = Date.now() + (options.timeoutMs ?? 5 * 60_000);
    for (;;) {
      const state = await this.fetchManifest(options);
      if (state.status !== "success") return state;
      const job = (state.data as { rebuild?: { job_id: string; status: string } | null }).rebuild;
      if (job == null || job.job_id !== jobId || !OPEN_JOB_STATUSES.includes(job.status)) {
        await this.fetchHistory(options);
        return state;
      }
      if (Date.now() + interval > deadline) return state;
      await sleep(interval, options.signal);
      interval = Math.min(options.maxIntervalMs ?? 5000, interval * 1.5);
    }
  }
}

export function createBcmStore(client: BcmClient): BcmStore {
  return new BcmStore(client);
}
