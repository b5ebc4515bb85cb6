// Writes docs/errors.md from the error-code catalogue (`npm run gen:errors`, through tsx).
// src/server/error-codes.test.ts fails when it is stale.

import { writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { renderErrorDocs } from "../src/server/error-docs.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
writeFileSync(path.join(root, "docs/errors.md"), renderErrorDocs());
console.log("wrote docs/errors.md");
