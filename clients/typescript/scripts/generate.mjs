// Regenerates src/schema.ts from docs/openapi.json with openapi-typescript (the one place its flags live).
// Usage: node scripts/generate.mjs [output] | --check (exit 1 when src/schema.ts is stale).
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(dirname(fileURLToPath(import.meta.url)));
const spec = resolve(here, "../../docs/openapi.json");
const committed = resolve(here, "src/schema.ts");
// --empty-objects-unknown: a schema with no properties listed ({"type": "object"}) is Record<string, unknown>,
// not Record<string, never>, so loosely described bodies can still be sent and read.
// --default-non-nullable=false: a property is required only when the spec's `required` says so. By default
// openapi-typescript makes every property with a `default` required, which would make callers send
// `autopay`, `workspace_id` or `version` that the API documents as optional.
const flags = ["--empty-objects-unknown", "--default-non-nullable=false"];

function generate(output) {
  execFileSync(resolve(here, "node_modules/.bin/openapi-typescript"), [spec, ...flags, "--output", output], {
    stdio: ["ignore", "ignore", "inherit"],
  });
}

if (process.argv[2] === "--check") {
  const dir = mkdtempSync(join(tmpdir(), "bcm-schema-"));
  try {
    const fresh = join(dir, "schema.ts");
    generate(fresh);
    if (readFileSync(fresh, "utf8") !== readFileSync(committed, "utf8")) {
      console.error("clients/typescript/src/schema.ts is stale: run `npm run generate` in clients/typescript");
      process.exit(1);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
} else {
  generate(resolve(process.argv[2] ?? committed));
}
