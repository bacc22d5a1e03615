// Compile-time checks of the generated types: no test runs here, `tsc` fails the build when one is wrong.
import type { ApiError, OperationProblemCode, ProblemCode } from "../../src/errors.js";
import type {
  ExportLink,
  Finalized,
  InitiatedPayment,
  Manifest,
  PaymentStatus,
  RebuildJob,
  Session,
  SessionStart,
  StepInfo,
  StepSaved,
  Success,
  VersionHistory,
} from "../../src/types.js";

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
type Expect<T extends true> = T;

// Problem codes are the spec's string literals, in all and per operation.
export type CodesAreLiterals = Expect<Equal<string extends ProblemCode ? true : false, false>>;
export const known: ProblemCode[] = ["order_not_found", "version_conflict", "rate_limited", "plan_limit_reached"];
// @ts-expect-error not a code the spec lists
export const unknownCode: ProblemCode = "no_such_code";
export const statusCodes: OperationProblemCode<"payment_status.get_status">[] = ["order_not_found", "token_expired"];
// @ts-expect-error payment_status never answers version_conflict
export const notStatus: OperationProblemCode<"payment_status.get_status"> = "version_conflict";
// An ApiError's code is a listed code or http_<status> for an answer that was not a problem.
export const fallback: ApiError["code"] = "http_502";

// The helpers' bodies are the generated response types once the spec describes them.
export type PollAfterIsNumber = Expect<Equal<PaymentStatus["poll_after_ms"], number>>;
export type StaleIsBoolean = Expect<Equal<Manifest["freshness"]["stale"], boolean>>;
export type ExportHasUrl = Expect<Equal<ExportLink["url"], string>>;

// Every helper's body is the generated type, none the hand-written fallback (the spec describes them all).
export type AllGenerated = [
  Expect<Equal<InitiatedPayment, Success<"initiate_payment.create_order">>>,
  Expect<Equal<PaymentStatus, Success<"payment_status.get_status">>>,
  Expect<Equal<Manifest, Success<"context.get_manifest">>>,
  Expect<Equal<RebuildJob, Success<"context.rebuild">>>,
  Expect<Equal<VersionHistory, Success<"context.version_history">>>,
  Expect<Equal<SessionStart, Success<"onboarding_step.start_session">>>,
  Expect<Equal<Session, Success<"onboarding_step.get_session">>>,
  Expect<Equal<StepSaved, Success<"onboarding_step.save_step">>>,
  Expect<Equal<StepInfo, Success<"onboarding_step.list_steps">>>,
  Expect<Equal<Finalized, Success<"finalize.finalize">>>,
];
