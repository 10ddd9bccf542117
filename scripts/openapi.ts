// `deno task openapi`: writes docs/openapi.json, the OpenAPI document the code generates.

import { openApiDocument } from "../src/api/openapi.ts";

export const openApiFile = "docs/openapi.json";

/** The document as committed: two-space JSON and a final newline. */
export function openApiText(): string {
  return JSON.stringify(openApiDocument(), null, 2) + "\n";
}

if (import.meta.main) {
  Deno.writeTextFileSync(openApiFile, openApiText());
  console.log(`openapi: wrote ${openApiFile}`);
}
