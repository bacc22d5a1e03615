// Compile-time checks of the generated types: no test runs here, `tsc` fails the build when one is wrong.
import type { ApiError, OperationProblemCode, ProblemCode } from "../../src/errors.js";
import type { PaymentInput, SaveStepInput } from "../../src/client.js";
import type { ExportLink, Manifest, PaymentStatus } from "../../src/types.js";

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

// The helpers' bodies are the generated response types.
export type PollAfterIsNumber = Expect<Equal<PaymentStatus["poll_after_ms"], number>>;
export type StaleIsBoolean = Expect<Equal<Manifest["freshness"]["stale"], boolean>>;
export type ExportHasUrl = Expect<Equal<ExportLink["url"], string>>;

// Request bodies require only what the spec's `required` lists (generated with --default-non-nullable=false).
export const minimalOrder: PaymentInput = { plan: "starter" };
export const minimalSave: SaveStepInput = { data: { name: "Acme" } };
// @ts-expect-error enterprise is not sold through the API
export const enterprise: PaymentInput = { plan: "enterprise" };
