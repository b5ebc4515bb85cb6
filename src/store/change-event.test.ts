import { test } from "node:test";
import assert from "node:assert/strict";
import { changeOf, decodeChange, encodeChange, EVERYTHING, isEmptyChange, MAX_CHANGE_IDS, mergeChanges, touches } from "./change-event.js";

test("changeOf keeps each id once and skips what is not an integer id", () => {
  const ev = changeOf({ users: [3, 3, null, undefined, 4, 1.5 as number], groups: [7], settings: ["system.security", "system.security"] });
  assert.deepEqual(ev.users, [3, 4]);
  assert.deepEqual(ev.groups, [7]);
  assert.deepEqual(ev.settings, ["system.security"]);
  assert.equal(ev.all, false);
  assert.ok(touches(ev, "users") && !touches(ev, "teams"));
  assert.ok(isEmptyChange(changeOf({})));
  assert.ok(!isEmptyChange(EVERYTHING) && touches(EVERYTHING, "teams"));
});

test("a change naming more ids than the limit is a change of everything", () => {
  const ids = Array.from({ length: MAX_CHANGE_IDS + 1 }, (_, i) => i);
  assert.equal(changeOf({ users: ids }), EVERYTHING);
  assert.equal(changeOf({ users: ids.slice(1) }).all, false);
  assert.equal(encodeChange(changeOf({ users: ids })), '{"all":true}');
});

test("the stored form round-trips; anything unreadable decodes as everything", () => {
  const ev = changeOf({ users: [1], groups: [2, 3], privileges: [4], apiKeys: [5], settings: ["x"], systems: [6], systemGroups: [7], teams: [8], directory: [9] });
  assert.deepEqual(decodeChange(encodeChange(ev)), ev);
  assert.equal(encodeChange(changeOf({ users: [1] })), '{"users":[1]}');
  for (const bad of ["", "nul", "[]", '{"all":1}', "42"]) assert.equal(decodeChange(bad).all, true, bad);
  assert.deepEqual(decodeChange('{"users":[1,"2",null],"bogus":[3]}').users, [1]);
});

test("merging events unites their ids; one change of everything makes the merge one", () => {
  const m = mergeChanges([changeOf({ users: [1], teams: [2] }), changeOf({ users: [1, 3] })]);
  assert.deepEqual(m.users, [1, 3]);
  assert.deepEqual(m.teams, [2]);
  assert.equal(mergeChanges([m, EVERYTHING]).all, true);
});
