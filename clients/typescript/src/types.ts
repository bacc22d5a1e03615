// The bodies the helpers send and return: the types generated from the spec (src/schema.ts), named.
import type { components, operations } from "./schema.js";

type JsonOf<R> = R extends { content: { "application/json": infer T } } ? T : never;
type Schemas = components["schemas"];

/** The JSON body of an operation's 2xx answers, as generated from the spec. */
export type Success<Op extends keyof operations> = {
  [S in keyof operations[Op]["responses"]]: S extends 200 | 201 | 202 ? JsonOf<operations[Op]["responses"][S]> : never;
}[keyof operations[Op]["responses"]];

/** The JSON request body of an operation, as generated from the spec. */
export type RequestBody<Op extends keyof operations> = operations[Op] extends {
  requestBody?: { content: { "application/json": infer T } };
}
  ? T
  : never;

export type PaymentState = Schemas["PaymentState"];
export type Plan = Schemas["InitiatePaymentRequest"]["plan"];
export type BillingPeriod = Schemas["BillingPeriod"];

/** The states a payment can still leave; every other state is final. */
export const OPEN_PAYMENT_STATES: readonly PaymentState[] = ["CREATED", "PENDING"];

/** initiate_payment's answer: an order to pay (201), or the free plan granted at once (200). */
export type InitiatedPayment = Success<"initiate_payment.create_order">;
export type PaymentStatus = Success<"payment_status.get_status">;
export type Manifest = Success<"context.get_manifest">;
export type RebuildJob = Success<"context.rebuild">;
export type VersionHistory = Success<"context.version_history">;
/** GET /context/export without `inline=true`: the signed link (with it, the answer is the document itself). */
export type ExportLink = Extract<Success<"context.export">, { url: unknown }>;
export type SessionStart = Success<"onboarding_step.start_session">;
export type Session = Success<"onboarding_step.get_session">;
export type StepSaved = Success<"onboarding_step.save_step">;
export type StepInfo = Success<"onboarding_step.list_steps">;
export type Finalized = Success<"finalize.finalize">;
