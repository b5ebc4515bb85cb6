import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
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

// The encoding as it was written first (a changed object copied key by key): the reference for
// the spread copy of plain objects.
function referenceToWire(value: unknown): unknown {
  if (value === null || typeof value !== "object") return value;
  if (value instanceof Date) return { $date: value.getTime() };
  if (Array.isArray(value)) {
    let out: unknown[] | null = null;
    value.forEach((v, i) => {
      const w = referenceToWire(v);
      if (w !== v && !out) out = value.slice(0, i);
      if (out) out.push(w);
    });
    return out ?? value;
  }
  const src = value as Record<string, unknown>;
  let out: Record<string, unknown> | null = null;
  for (const key in src) {
    const v = src[key];
    if (v === undefined) continue;
    const w = referenceToWire(v);
    if (w !== v && !out) {
      out = {};
      for (const k in src) {
        if (k === key) break;
        if (src[k] !== undefined) out[k] = src[k];
      }
    }
    if (out) out[key] = w;
  }
  return out ?? value;
}

test("an object copied for a changed value is the key-by-key copy: keys, order, undefined left out, prototype", () => {
  const key = fc.constantFrom("a", "b", "1", "0", "10", "__proto__", "z");
  const leaf = fc.oneof(
    fc.integer(),
    fc.constant(undefined),
    fc.constant(null),
    fc.string({ maxLength: 3 }),
    fc.integer().map((n) => new Date(n)),
  );
  const tree = fc.letrec((tie) => ({
    node: fc.oneof({ depthSize: "small" }, leaf, fc.array(tie("node"), { maxLength: 3 }), tie("obj")),
    obj: fc.array(fc.tuple(key, tie("node")), { maxLength: 5 }).map((entries) => {
      const o: Record<string, unknown> = {};
      // defineProperty: an own "__proto__" key, as JSON.parse makes it.
      for (const [k, v] of entries) Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
      return o;
    }),
  }));
  fc.assert(
    fc.property(tree.node, (v) => {
      const got = toWire(v);
      const want = referenceToWire(v);
      // (Not deepEqual: a key-by-key copy makes an own "__proto__" value the copy's prototype, a new object each time.)
      assert.equal(JSON.stringify(got), JSON.stringify(want));
      if (got && typeof got === "object" && want && typeof want === "object") {
        assert.deepEqual(Object.keys(got), Object.keys(want));
        assert.equal(JSON.stringify(Object.getPrototypeOf(got)), JSON.stringify(Object.getPrototypeOf(want)));
        assert.equal(got === v, want === v, "copied exactly when the reference copies");
        for (const k of Object.keys(got))
          assert.equal(
            (got as Record<string, unknown>)[k] === (v as Record<string, unknown>)[k],
            (want as Record<string, unknown>)[k] === (v as Record<string, unknown>)[k],
            `${k}: shared exactly when the reference shares it`,
          );
      }
    }),
    { numRuns: 3000 },
  );
});
