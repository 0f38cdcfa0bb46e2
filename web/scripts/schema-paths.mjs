// Writes src/api/generated/paths.ts: the API paths and schema names in
// openapi.json, so the app can tell "this endpoint does not exist yet" from
// "this record was not found", and tests can name what is still missing.
import { readFileSync, writeFileSync, mkdirSync } from "node:fs";

const schema = JSON.parse(readFileSync("openapi.json", "utf8"));
const paths = Object.keys(schema.paths ?? {}).sort();
const names = Object.keys(schema.components?.schemas ?? {}).sort();
mkdirSync("src/api/generated", { recursive: true });
writeFileSync(
  "src/api/generated/paths.ts",
  `// Generated from openapi.json by scripts/schema-paths.mjs; do not edit.\n` +
    `export const SCHEMA_PATHS: readonly string[] = ${JSON.stringify(paths, null, 2)};\n` +
    `export const SCHEMA_NAMES: readonly string[] = ${JSON.stringify(names, null, 2)};\n`,
);
console.log(`src/api/generated/paths.ts: ${paths.length} paths, ${names.length} schemas`);
