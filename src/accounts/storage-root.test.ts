import { test } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import fc from "fast-check";
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

test("normalizeDir: a path already normal is returned as it is, any other exactly as posix.normalize minus trailing slashes", () => {
  const reference = (p: string) => {
    const n = path.posix.normalize(p);
    return n.length > 1 ? n.replace(/\/+$/, "") : n;
  };
  for (const p of ["", ".", "..", "/", "//", "/.", "/..", "a/", "./a", "a/.", "a/..", "/a/./b", "/a//b", ".a", "..a", "a.", "a..", "/a/.b/..c", "/mnt/tank/u"]) {
    assert.equal(normalizeDir(p), reference(p), JSON.stringify(p));
  }
  fc.assert(
    fc.property(fc.string({ unit: fc.constantFrom("/", ".", "a", "b"), maxLength: 12 }), (p) => normalizeDir(p) === reference(p)),
    { numRuns: 20_000 },
  );
});

test("storageRootOf: roots given as one list are normalized once; a root added or replaced in place counts at once", () => {
  const roots = ["/mnt/tank/"];
  assert.equal(storageRootOf("/mnt/tank/u", roots), "/mnt/tank");
  roots.push("/srv//data/");
  assert.equal(storageRootOf("/srv/data/u", roots), "/srv/data", "a root added");
  roots[0] = "/mnt/other";
  assert.equal(storageRootOf("/mnt/tank/u", roots), null, "a root replaced: the old one no longer counts");
  assert.equal(storageRootOf("/mnt/other/u", roots), "/mnt/other");
});
