export * from "./bcm.js";
export * from "./client.js";
export * from "./errors.js";
export * from "./payments.js";
export * from "./types.js";
export type { components, operations, paths } from "./schema.js";
