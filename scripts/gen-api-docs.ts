// Writes docs/api.md and web/src/api-types.ts from the method schemas (`npm run gen`, through tsx).
// src/api/api-docs.test.ts fails when either is stale.

import { writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { buildRegistry } from "../src/api/registry.js";
import { renderApiDocs, renderApiTypes } from "../src/api/api-docs.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const registry = buildRegistry();
writeFileSync(path.join(root, "docs/api.md"), renderApiDocs(registry));
writeFileSync(path.join(root, "web/src/api-types.ts"), renderApiTypes(registry));
console.log("wrote docs/api.md and web/src/api-types.ts");
