import { test } from "node:test";
import assert from "node:assert/strict";
import { MAX_PARAM_DEPTH, paramsDepthError, pathLengthProblem, tooDeepPath } from "./input-bounds.js";

const nest = (n: number): unknown => {
  let v: unknown = 1;
  for (let i = 0; i < n; i++) v = [v];
  return v;
};

test("nesting up to the bound passes; one level more names the path; 200,000 levels do not overflow", () => {
  assert.equal(tooDeepPath(nest(MAX_PARAM_DEPTH), MAX_PARAM_DEPTH), null);
  assert.deepEqual(tooDeepPath(nest(MAX_PARAM_DEPTH + 1), MAX_PARAM_DEPTH), Array(MAX_PARAM_DEPTH).fill(0));
  assert.deepEqual(tooDeepPath({ a: [1, { b: nest(3) }] }, 4), ["a", 1, "b", 0]);
  assert.ok(tooDeepPath(nest(200_000), MAX_PARAM_DEPTH));
  const err = paramsDepthError([{ name: "user_create" }], [{ full_name: nest(100) }]);
  assert.equal(err?.errors[0][0], "user_create.full_name.0.0.0.…");
  assert.equal(err?.errors[0][2], 22);
  assert.equal(paramsDepthError([{ name: "filters" }], [[["a", "=", 1]]]), null);
});

test("path bounds: PATH_MAX and NAME_MAX in bytes", () => {
  assert.equal(pathLengthProblem("/mnt/" + "a".repeat(255)), null);
  assert.match(pathLengthProblem("/mnt/" + "a".repeat(256))!, /component/);
  assert.match(pathLengthProblem("/mnt/" + "é".repeat(128))!, /component/); // 256 bytes
  assert.match(pathLengthProblem("/a".repeat(2048))!, /too long/);
});
