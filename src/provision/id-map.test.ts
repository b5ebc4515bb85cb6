import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { IdMap } from "./id-map.js";

// IdMap stands in for Map<number, T> in the provisioning model: the same answers for any sequence
// of sets and deletes (ids in and across pages, negative ones, and ids no 32-bit page holds), and
// entries in ascending id order.
const idArb = fc.oneof(fc.integer({ min: 0, max: 2000 }), fc.integer({ min: -600, max: -1 }), fc.constantFrom(2 ** 31, 2 ** 40, 1.5, -(2 ** 33)));
const opArb = fc.oneof(fc.record({ kind: fc.constant("set" as const), id: idArb, value: fc.integer() }), fc.record({ kind: fc.constant("delete" as const), id: idArb }));

test("IdMap answers as a Map does for any sequence of sets and deletes, and lists entries by ascending id", () => {
  fc.assert(
    fc.property(fc.array(opArb, { maxLength: 300 }), fc.array(idArb, { maxLength: 50 }), (ops, probes) => {
      const ids = new IdMap<number>();
      const ref = new Map<number, number>();
      for (const op of ops) {
        if (op.kind === "set") {
          ids.set(op.id, op.value);
          ref.set(op.id, op.value);
        } else assert.equal(ids.delete(op.id), ref.delete(op.id));
        assert.equal(ids.size, ref.size);
      }
      for (const id of [...probes, ...ref.keys()]) {
        assert.equal(ids.get(id), ref.get(id));
        assert.equal(ids.has(id), ref.has(id));
      }
      const sorted = [...ref.entries()].sort((a, b) => a[0] - b[0]);
      assert.deepEqual([...ids.entries()], sorted);
      assert.deepEqual(
        [...ids.keys()],
        sorted.map(([k]) => k),
      );
      assert.deepEqual(
        [...ids.values()],
        sorted.map(([, v]) => v),
      );
    }),
    { numRuns: 300 },
  );
});
