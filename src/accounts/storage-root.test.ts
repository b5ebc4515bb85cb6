import { test } from "node:test";
import assert from "node:assert/strict";
import { isWithin, normalizeDir, storageRootOf } from "./storage-root.js";

test("normalizeDir strips trailing slashes and dot segments, keeps /", () => {
  assert.equal(normalizeDir("/mnt/tank//"), "/mnt/tank");
  assert.equal(normalizeDir("/mnt/./tank/../pool/"), "/mnt/pool");
  assert.equal(normalizeDir("/"), "/");
  assert.equal(normalizeDir("//"), "/");
});

test("isWithin: the root itself and below it, not a sibling sharing its prefix", () => {
  assert.ok(isWithin("/mnt/tank", "/mnt/tank"));
  assert.ok(isWithin("/mnt/tank/u", "/mnt/tank"));
  assert.ok(!isWithin("/mnt/tankX/u", "/mnt/tank"));
  assert.ok(isWithin("/anything", "/"));
});

test("storageRootOf: strictly inside, by name after normalizing, first matching root", () => {
  const roots = ["/mnt/tank/", "/mnt"];
  assert.equal(storageRootOf("/mnt/tank/u/", roots), "/mnt/tank");
  assert.equal(storageRootOf("/mnt/tank", roots), "/mnt");
  assert.equal(storageRootOf("/mnt/tank/../../etc", roots), null);
  assert.equal(storageRootOf("/mnt/tankX/u", ["/mnt/tank"]), null);
  assert.equal(storageRootOf("relative/u", roots), null);
  assert.equal(storageRootOf("/mnt", ["/mnt"]), null);
});
