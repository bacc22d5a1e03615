// Regenerates src/schema.ts from docs/openapi.json with openapi-typescript (the one place its flags live).
// Usage: node scripts/generate.mjs [output]; the sync test writes to a temporary file and compares.
import { execFileSync } from "node:child_process";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(dirname(fileURLToPath(import.meta.url)));
const spec = resolve(here, "../../docs/openapi.json");
const output = resolve(process.argv[2] ?? resolve(here, "src/schema.ts"));
// --empty-objects-unknown: a schema with no properties listed ({"type": "object"}) is Record<string, unknown>,
// not Record<string, never>, so loosely described bodies can still be sent and read.
const flags = ["--empty-objects-unknown"];
execFileSync(resolve(here, "node_modules/.bin/openapi-typescript"), [spec, ...flags, "--output", output], {
  stdio: ["ignore", "ignore", "inherit"],
});
