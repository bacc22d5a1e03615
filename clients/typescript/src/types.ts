// What the helpers read and return. Each public type prefers the generated one (src/schema.ts) once the
// spec describes that body; while the spec says only {"type": "object"} it is the shape docs/api.md gives.
import type { operations } from "./schema.js";

type JsonOf<R> = R extends { content: { "application/json": infer T } } ? T : never;

/** The JSON body of an operation's 2xx answers, as generated from the spec. */
export type Success<Op extends keyof operations> = {
  [S in keyof operations[Op]["responses"]]: S extends 200 | 201 | 202 ? JsonOf<operations[Op]["responses"][S]> : never;
}[keyof operations[Op]["responses"]];

/** `Generated` when the spec names its fields, else the hand-written `Written`. */
export type Prefer<Generated, Written> = [Generated] extends [never]
  ? Written
  : string extends keyof Generated
    ? Written
    : Generated;

export type PaymentState = "CREATED" | "PENDING" | "COMPLETED" | "FAILED" | "EXPIRED" | "REFUNDED" | "NEEDS_REVIEW";
export type Plan = "free" | "starter" | "growth";
export type BillingPeriod = "monthly" | "annual";

/** The states a payment can still leave; every other state is final. */
export const OPEN_PAYMENT_STATES: readonly string[] = ["CREATED", "PENDING"];

export interface SubscriptionBrief {
  plan: string;
  billing_period: string;
  status: string;
  current_period_start: string;
  current_period_end: string | null;
}

export interface WrittenOrder {
  merchant_order_id: string;
  checkout_url: string;
  amount: number;
  credit: number;
  currency: string;
  state: PaymentState;
  plan: string;
  billing_period: string;
  expires_at: string | null;
  autopay: boolean;
  merchant_subscription_id?: string;
}

/** `plan: free`: active at once, no order and no checkout. */
export interface WrittenFreePlan {
  state: "COMPLETED";
  plan: string;
  subscription: SubscriptionBrief;
}

export interface WrittenPaymentStatus {
  merchant_order_id: string;
  state: PaymentState;
  amount: number;
  currency: string;
  plan: string;
  billing_period: string;
  subscription: SubscriptionBrief | null;
  updated_at: string;
  /** How long to wait before asking again; 0 once the state is final. */
  poll_after_ms: number;
}

export type RebuildJobStatus = "queued" | "running" | "succeeded" | "failed" | "skipped";

export interface WrittenManifest {
  workspace_id: string;
  version: string;
  checksum: string;
  token_count: number;
  manifest: Record<string, unknown>;
  created_at: string;
  served_from: "tier0" | "tier1" | "tier2" | "origin";
  freshness: { age_seconds: number; stale: boolean };
  rebuild: { job_id: string; status: RebuildJobStatus } | null;
}

export interface WrittenRebuildJob {
  job_id: string;
  status: RebuildJobStatus;
}

export interface WrittenVersionHistory {
  workspace_id: string;
  versions: { version: string; checksum: string; created_at: string; source: string; change: string }[];
}

export interface WrittenExportLink {
  url: string;
  expires_at: string;
  format: "json" | "markdown";
  version: string;
  filename: string;
}

export interface StepProgress {
  complete: number;
  total: number;
  percent: number;
  statuses: string[];
  last_saved_at: string | null;
}

export interface WrittenSessionStart {
  session_id: string;
  status: string;
  progress: StepProgress;
  steps: unknown[];
  resumed?: boolean;
}

export interface WrittenSession {
  session_id: string;
  workspace_id: string;
  status: "active" | "finalized" | "abandoned";
  progress: StepProgress;
  steps: {
    number: number;
    slug: string;
    title: string;
    status: "empty" | "draft" | "complete";
    data: Record<string, unknown>;
    version: number;
    updated_at: string | null;
    errors: unknown[];
    ai: Record<string, unknown>;
  }[];
  updated_at: string;
  expires_at: string;
}

export interface WrittenStepSaved {
  step: { number: number; status: string; version: number; [key: string]: unknown };
  progress: StepProgress;
  saved_at: string;
}

export interface WrittenStepInfo {
  number: number;
  slug: string;
  title: string;
  ai_task: string | null;
  schema: Record<string, unknown>;
}

export interface WrittenFinalized {
  business_context: Record<string, unknown>;
  manifest: { version: string; checksum: string; token_count: number };
  onboarding_status: "completed";
}

export type InitiatedPayment = Prefer<Success<"initiate_payment.create_order">, WrittenOrder | WrittenFreePlan>;
export type PaymentStatus = Prefer<Success<"payment_status.get_status">, WrittenPaymentStatus>;
export type Manifest = Prefer<Success<"context.get_manifest">, WrittenManifest>;
export type RebuildJob = Prefer<Success<"context.rebuild">, WrittenRebuildJob>;
export type VersionHistory = Prefer<Success<"context.version_history">, WrittenVersionHistory>;
/** GET /context/export without `inline=true`: the signed link (with it, the answer is the document itself). */
export type ExportLink = Prefer<Extract<Success<"context.export">, { url: unknown }>, WrittenExportLink>;
export type SessionStart = Prefer<Success<"onboarding_step.start_session">, WrittenSessionStart>;
export type Session = Prefer<Success<"onboarding_step.get_session">, WrittenSession>;
export type StepSaved = Prefer<Success<"onboarding_step.save_step">, WrittenStepSaved>;
export type StepInfo = Prefer<Success<"onboarding_step.list_steps">, WrittenStepInfo[]>;
export type Finalized = Prefer<Success<"finalize.finalize">, WrittenFinalized>;
