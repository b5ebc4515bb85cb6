import { test } from "node:test";
import assert from "node:assert/strict";
import { fromWire, toWire, WireSet } from "./ejson.js";

test("datetimes and sets are encoded as $date and $set", () => {
  const d = new Date(1700000000123);
  assert.deepEqual(toWire({ a: d, b: [d], c: new WireSet(["X"]), d: 1, e: undefined }), {
    a: { $date: 1700000000123 },
    b: [{ $date: 1700000000123 }],
    c: { $set: ["X"] },
    d: 1,
  });
});

test("plain values pass through without copying", () => {
  const v = { a: [1, 2, { b: "x" }] };
  assert.equal(toWire(v), v);
});

test("a deeply frozen value's wire form is kept; a frozen value holding a mutable one is walked each time", () => {
  const d = new Date(7);
  const frozen = Object.freeze([Object.freeze({ at: d }), Object.freeze({ method: "CALL" })]);
  const first = toWire(frozen);
  assert.deepEqual(first, [{ at: { $date: 7 } }, { method: "CALL" }]);
  // The Date inside is not frozen-safe (a Date can change): no memo, the change shows.
  d.setTime(8);
  assert.deepEqual(toWire(frozen), [{ at: { $date: 8 } }, { method: "CALL" }]);

  const shared = Object.freeze([Object.freeze({ method: "CALL", resource: "user.query" })]);
  assert.equal(toWire(shared), shared, "nothing to convert: the value itself");
  assert.equal((toWire(new WireSet(shared)) as { $set: unknown }).$set, shared, "a set of a frozen list: the list itself");

  const inner = { n: 1 };
  const shallow = Object.freeze([inner]);
  assert.deepEqual(toWire(shallow), [{ n: 1 }]);
  inner.n = 2;
  assert.deepEqual(toWire(shallow), [{ n: 2 }], "only deeply frozen values are kept");
});

test("inbound $date becomes a Date and $set an array", () => {
  const v = fromWire({ x: { $date: 5 }, y: { $set: [1, 2] }, z: { $type: "date", $value: "2024-01-02" } }) as Record<string, unknown>;
  assert.ok(v.x instanceof Date);
  assert.equal((v.x as Date).getTime(), 5);
  assert.deepEqual(v.y, [1, 2]);
  assert.equal(v.z, "2024-01-02");
});

test("inbound values without extended JSON come back as the same objects; a change copies only its path", () => {
  const plain = [[["username", "=", "a"]], { limit: 5, select: ["id"] }];
  assert.equal(fromWire(plain), plain, "nothing to decode: the same array");
  const shared = { k: [1, 2] };
  const input = [shared, { when: { $date: 7 }, other: { x: 1 } }, "s"];
  const out = fromWire(input) as any[];
  assert.notEqual(out, input, "a decoded value copies the array it is in");
  assert.deepEqual(input[1], { when: { $date: 7 }, other: { x: 1 } }, "the input is not changed");
  assert.equal(out[0], shared, "untouched siblings are shared");
  assert.ok(out[1].when instanceof Date && out[1].when.getTime() === 7, "the $date is decoded");
  assert.equal(out[1].other, (input[1] as any).other, "untouched keys are shared");
  assert.deepEqual(Object.keys(out[1]), ["when", "other"], "key order is kept");
  assert.equal(out[2], "s", "later elements follow");
  const late = { a: 1, b: 2, c: { $set: [3] } };
  assert.deepEqual(fromWire(late), { a: 1, b: 2, c: [3] }, "keys before the first change are copied");
});
