import { test } from "node:test";
import assert from "node:assert/strict";
import { fromWire, toWire, WireSet } from "./ejson.js";

test("datetimes and sets are encoded as $date and $set", () => {
  const d = new Date(1700000000123);
  assert.deepEqual(toWire({ a: d, b: [d], c: new WireSet(["X"]), d: 1, e: undefined }), {
    a: { $date: 1700000000123 }, b: [{ $date: 1700000000123 }], c: { $set: ["X"] }, d: 1,
  });
});

test("plain values pass through without copying", () => {
  const v = { a: [1, 2, { b: "x" }] };
  assert.equal(toWire(v), v);
});

test("inbound $date becomes a Date and $set an array", () => {
  const v = fromWire({ x: { $date: 5 }, y: { $set: [1, 2] }, z: { $type: "date", $value: "2024-01-02" } }) as Record<string, unknown>;
  assert.ok(v.x instanceof Date);
  assert.equal((v.x as Date).getTime(), 5);
  assert.deepEqual(v.y, [1, 2]);
  assert.equal(v.z, "2024-01-02");
});
