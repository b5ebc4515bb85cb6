// docs/api.md and web/src/api-types.ts are generated from the method schemas and must be current.

import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { buildRegistry } from "./registry.js";
import { renderApiDocs, renderApiTypes } from "./api-docs.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

for (const [file, render] of [
  ["docs/api.md", renderApiDocs],
  ["web/src/api-types.ts", renderApiTypes],
] as const) {
  test(`${file} is current (generated from the method schemas)`, () => {
    const expected = render(buildRegistry());
    let actual = "";
    try {
      actual = readFileSync(path.join(root, file), "utf8");
    } catch {
      assert.fail(`${file} is missing: run npm run gen`);
    }
    assert.ok(actual === expected, `${file} is stale: run npm run gen`);
  });
}

test("docs/api.md lists every published method with its roles, ownership rule and result", () => {
  const registry = buildRegistry();
  const docs = renderApiDocs(registry);
  for (const def of registry.all()) {
    if (def.private) continue;
    const at = docs.indexOf(`### ${def.name}\n`);
    assert.ok(at >= 0, `${def.name} listed`);
    const section = docs.slice(at, docs.indexOf("\n### ", at + 1));
    assert.match(section, /- Roles: /, `${def.name}: roles`);
    assert.match(section, /- Ownership: /, `${def.name}: ownership rule`);
    assert.match(section, /Result: `/, `${def.name}: result`);
  }
  assert.match(docs, /\| username \| `string` \| Login name\. \|/, "entity fields with their descriptions");
});
