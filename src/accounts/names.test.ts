import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fc from "fast-check";
import { ValidationErrors, ERRNO } from "../server/errors.js";
import { pyRepr, suggestUsername, validateEmail, validateFullName, validateGroupName, validateUsername } from "./names.js";

const VALID_CHARS_MSG =
  "Valid characters are: 'a, b, c, d, e, f, g, h, i, j, k, l, m, n, o, p, q, r, s, t, u, v, w, x, y, z, " +
  "A, B, C, D, E, F, G, H, I, J, K, L, M, N, O, P, Q, R, S, T, U, V, W, X, Y, Z, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, _, -, .'";

function run(fn: (e: ValidationErrors, attr: string, v: string) => unknown, value: string, attr = "user_create.username") {
  const errors = new ValidationErrors();
  fn(errors, attr, value);
  return errors.errors;
}

test("validateUsername accepts valid names", () => {
  for (const name of ["a", "_svc", "John.Doe-2", "x".repeat(32), "A_b.c-d9"]) {
    assert.deepEqual(run(validateUsername, name), [], name);
  }
});

test("validateUsername messages (upstream validate_name, first failure only)", () => {
  assert.deepEqual(run(validateUsername, ""), [["user_create.username", "Must be at least 1 character in length", ERRNO.EINVAL]]);
  assert.deepEqual(run(validateUsername, "x".repeat(33)), [["user_create.username", "Cannot exceed 32 charaters in length", ERRNO.EINVAL]]);
  assert.deepEqual(run(validateUsername, "-bob"), [["user_create.username", `Cannot start with "'-'"`, ERRNO.EINVAL]]);
  assert.deepEqual(run(validateUsername, "1bob"), [["user_create.username", `Cannot start with "'1'"`, ERRNO.EINVAL]]);
  assert.deepEqual(run(validateUsername, ".bob"), [["user_create.username", `Cannot start with "'.'"`, ERRNO.EINVAL]]);
  assert.deepEqual(run(validateUsername, "'bob"), [["user_create.username", `Cannot start with ""'""`, ERRNO.EINVAL]]);
  assert.deepEqual(run(validateUsername, "bob smith"), [["user_create.username", VALID_CHARS_MSG, ERRNO.EINVAL]]);
  // The upstream test: non-ASCII usernames are rejected with the character list.
  assert.deepEqual(run(validateUsername, "bøb"), [["user_create.username", VALID_CHARS_MSG, ERRNO.EINVAL]]);
  // Trailing "$" (machine accounts) is no longer allowed since 25.10.
  assert.deepEqual(run(validateUsername, "host$"), [["user_create.username", VALID_CHARS_MSG, ERRNO.EINVAL]]);
  // Lengths count code points, not UTF-16 units: 16 emoji are 16 characters, so the start rule
  // (not the length rule) fires.
  assert.equal(run(validateUsername, "😀".repeat(16))[0][1], `Cannot start with "'😀'"`);
});

test("validateGroupName: digits and dots may start a group name; shadow-utils bounds (32 characters, not . or .., not all digits)", () => {
  const attr = "group_create.name";
  for (const name of ["1group", ".hidden", "_g", "g".repeat(32), "1.2"]) assert.deepEqual(run(validateGroupName, name, attr), [], name);
  assert.deepEqual(run(validateGroupName, "g".repeat(33), attr), [[attr, "Cannot exceed 32 charaters in length", ERRNO.EINVAL]]);
  for (const name of [".", "..", "0", "1234"]) assert.equal(run(validateGroupName, name, attr).length, 1, name);
  assert.deepEqual(run(validateGroupName, "", attr), [[attr, "Must be at least 1 character in length", ERRNO.EINVAL]]);
  assert.deepEqual(run(validateGroupName, "-g", attr), [[attr, `Cannot start with "'-'"`, ERRNO.EINVAL]]);
  assert.deepEqual(run(validateGroupName, "a:b", attr), [[attr, VALID_CHARS_MSG, ERRNO.EINVAL]]);
});

test("validateFullName", () => {
  const attr = "user_create.full_name";
  assert.deepEqual(run(validateFullName, "Jöhn Smith, Room 4", attr), []);
  assert.deepEqual(run(validateFullName, "", attr), [[attr, "String should have at least 1 character", ERRNO.EINVAL]]);
  assert.deepEqual(run(validateFullName, "a:b", attr), [[attr, "The ':' character is not allowed.", ERRNO.EINVAL]]);
  assert.deepEqual(run(validateFullName, "a\nb", attr), [[attr, "The '\\n' character is not allowed.", ERRNO.EINVAL]]);
  assert.deepEqual(run(validateFullName, "a:\nb", attr), [
    [attr, "The ':' character is not allowed.", ERRNO.EINVAL],
    [attr, "The '\\n' character is not allowed.", ERRNO.EINVAL],
  ]);
});

test("validateEmail", () => {
  const attr = "user_create.email";
  const check = (v: string | null) => {
    const errors = new ValidationErrors();
    validateEmail(errors, attr, v);
    return errors.errors.map((e) => e[1]);
  };
  assert.deepEqual(check(null), []);
  assert.deepEqual(check(""), []);
  assert.deepEqual(check("a@b"), []);
  assert.deepEqual(check("first.last+tag@mail.example.com"), []);
  // WHATWG syntax (beyond the reference): quoted local parts, spaces, controls, bad labels.
  for (const bad of ['"odd@local"@example.com', "a b@c.d", "a@b\nc", "a@-b.c", "a@b..c", "a@b_c.d", "é@b.c"]) {
    assert.deepEqual(check(bad), ["Not a valid email address."], bad);
  }
  assert.deepEqual(check("x".repeat(250) + "@b.cd"), ["Maximum length is 254 characters."]);
  assert.deepEqual(check("nobody"), ["Missing '@' symbol."]);
  assert.deepEqual(check("@example.com"), ["Missing local part of email string (part before the '@')."]);
  assert.deepEqual(check("me@"), ["Missing domain part of email string (part after the '@')."]);
});

test("pyRepr quoting and escapes", () => {
  assert.equal(pyRepr("abc"), "'abc'");
  assert.equal(pyRepr("it's"), `"it's"`);
  assert.equal(pyRepr(`a'b"c`), `'a\\'b"c'`);
  assert.equal(pyRepr("a\\b\t\n\r\x00\x7f\u200b\u00e9\u{1F600}"), "'a\\\\b\\t\\n\\r\\x00\\x7f\\u200bé😀'");
  assert.equal(pyRepr("\u00a0\u2028"), "'\\xa0\\u2028'");
});

// Differential check against the real thing when a Python is around.
const python = spawnSync("python3", ["-c", "print(1)"]).status === 0;
test("pyRepr matches Python's repr() on random strings", { skip: !python && "python3 not installed" }, () => {
  // Latin, Greek and General Punctuation (controls, spaces, format characters, separators) have
  // had stable categories for many Unicode versions, so Node's and Python's databases agree.
  const unit = fc.oneof(fc.integer({ min: 0, max: 0x24f }), fc.integer({ min: 0x370, max: 0x3ff }), fc.integer({ min: 0x2000, max: 0x206f })).map((cp) => String.fromCodePoint(cp));
  const samples = fc.sample(fc.string({ unit, maxLength: 12 }), 500);
  const out = spawnSync("python3", ["-c", "import json,sys\nfor s in json.load(sys.stdin): print(json.dumps(repr(s)))"], {
    input: JSON.stringify(samples),
    encoding: "utf8",
  });
  assert.equal(out.status, 0, out.stderr);
  const expected = out.stdout
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as string);
  samples.forEach((s, i) => assert.equal(pyRepr(s), expected[i], JSON.stringify(s)));
});

test("suggestUsername: first initial + last name, folded to ASCII", () => {
  assert.equal(suggestUsername("John Smith"), "jsmith");
  assert.equal(suggestUsername("  Björk  "), "bjork");
  assert.equal(suggestUsername("José Álvarez-Núñez"), "jalvareznunez");
  assert.equal(suggestUsername("Conan O'Brien"), "cobrien");
  assert.equal(suggestUsername("Smith, John"), "jsmith");
  assert.equal(suggestUsername("Jürgen Straße"), "jstrasse");
  assert.equal(suggestUsername("Søren Kierkegaard"), "skierkegaard");
  assert.equal(suggestUsername("ﬁona ＡＢＣ"), "fabc"); // compatibility forms fold too
  assert.equal(suggestUsername("李雷"), "user");
  assert.equal(suggestUsername(""), "user");
  assert.equal(suggestUsername("2Pac Shakur"), "user2shakur");
  assert.equal(suggestUsername("A " + "b".repeat(40)).length, 32);
});

test("suggestUsername de-duplicates with a numeric suffix within 32 characters", () => {
  const taken = new Set(["jsmith", "jsmith2"]);
  assert.equal(
    suggestUsername("John Smith", (n) => taken.has(n)),
    "jsmith3",
  );
  const long = "a" + "b".repeat(31);
  assert.equal(
    suggestUsername("A " + "b".repeat(31), (n) => n === long),
    "a" + "b".repeat(30) + "2",
  );
});

test("suggestUsername always yields a valid, free username", () => {
  fc.assert(
    fc.property(fc.string({ unit: "grapheme", maxLength: 40 }), fc.array(fc.string(), { maxLength: 5 }), (fullName, used) => {
      const taken = new Set(used);
      const name = suggestUsername(fullName, (n) => taken.has(n));
      const errors = new ValidationErrors();
      validateUsername(errors, "u", name);
      assert.deepEqual(errors.errors, []);
      assert.ok(!taken.has(name));
    }),
  );
});
