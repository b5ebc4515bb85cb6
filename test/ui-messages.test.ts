// Every stable error code (src/server/error-codes.ts) has a sentence for people in the web UI
// (web/src/messages.ts; issue 14 point 5): this test fails when a code is added without one.
// Sentences read as sentences and name no role identifiers or methods.

import { it } from "node:test";
import assert from "node:assert/strict";
import { ERROR_CODES } from "../src/server/error-codes.js";
import { SENTENCES, sentenceFor } from "../web/src/messages.js";

it("every error code has a sentence in the web UI", () => {
  const missing = Object.keys(ERROR_CODES).filter((c) => !(c in SENTENCES));
  assert.deepEqual(missing, [], `add a sentence to web/src/messages.ts for: ${missing.join(", ")}`);
  const stale = Object.keys(SENTENCES).filter((c) => !(c in ERROR_CODES));
  assert.deepEqual(stale, [], `web/src/messages.ts has sentences for codes that do not exist: ${stale.join(", ")}`);
});

it("sentences are for people: a capital, a full stop, no role or method identifiers", () => {
  for (const code of Object.keys(ERROR_CODES)) {
    const s = sentenceFor(code, "[EINVAL] field: some detail")!;
    assert.match(s, /^[A-Z“]/, `${code}: starts with a capital: ${s}`);
    assert.match(s, /[.)]$/, `${code}: ends a sentence: ${s}`);
    assert.doesNotMatch(s, /\b[A-Z]+_[A-Z_]+\b/, `${code}: no role identifier: ${s}`);
    assert.doesNotMatch(s, /\b[a-z_]+\.[a-z_]+\(|\bauth\.|\buser\.[a-z]/, `${code}: no method name: ${s}`);
  }
});

it("a sentence may carry the server's detail", () => {
  assert.equal(sentenceFor("filesystem.outside_storage_roots", "Path must be inside a storage root: /mnt, /tank"), "Choose a folder inside a storage root (/mnt, /tank).");
  assert.equal(sentenceFor("user.username_taken", "x"), "A user with this username already exists. Choose a different username.");
  assert.equal(sentenceFor("no.such_code", "x"), null);
});

// Words for people (web/src/words.ts; issue 14 point 7): identifiers shown on screens read as words.
it("every role, credential type, audit event, mail kind and state reads as words, not an identifier", async () => {
  const { ALL_ROLE_NAMES } = await import("../src/access/roles.js");
  const { LISTED_TERMS, roleName, words } = await import("../web/src/words.js");
  const shown: [string, string][] = ALL_ROLE_NAMES.map((r) => [r, roleName(r)]);
  for (const [kind, ids] of Object.entries(LISTED_TERMS)) for (const id of ids) shown.push([id, words(kind as keyof typeof LISTED_TERMS, id)]);
  for (const [id, text] of shown) {
    assert.doesNotMatch(text, /_|\b[A-Z]{2,}[a-z]*_|^[A-Z0-9_]{4,}$/, `${id} is shown as ${text}`);
    assert.match(text, /^[A-Z“]/, `${id}: ${text} starts with a capital`);
  }
  assert.equal(roleName("ACCOUNT_READ"), "View accounts");
  assert.equal(roleName("SHARING_SMB_WRITE"), "Manage SMB shares");
  assert.equal(roleName("FULL_ADMIN"), "Full administrator");
  assert.equal(words("credential", "NEW_THING"), "New thing");
});

it("a token session says what it continues, never 'Token via Token'", async () => {
  const { credentialText } = await import("../web/src/words.js");
  assert.equal(credentialText("TOKEN", null, "TOKEN"), "Continued session");
  assert.equal(credentialText("TOKEN", null, "LOGIN_PASSWORD"), "Continued session, first signed in with password");
  assert.equal(credentialText("API_KEY", "ci"), "API key “ci”");
});
