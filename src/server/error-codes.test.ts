import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { ERRNO } from "./errno.js";
import { ERROR_CODES, genericCode, isErrorCode, type ErrorCode } from "./error-codes.js";
import { renderErrorDocs } from "./error-docs.js";
import { CallError, RpcError, ValidationErrors, fieldError, fieldErrorCode, instanceNotFound } from "./errors.js";
import { errorObject } from "./rpc.js";
import { Job } from "./jobs.js";
import { scrubError } from "../audit/secret-args.js";
import type { MethodDef } from "../api/method.js";

test("the catalogue: namespaced snake_case codes, known errnos, a description each", () => {
  const errnos = new Set<number>(Object.values(ERRNO));
  for (const [code, info] of Object.entries(ERROR_CODES)) {
    assert.match(code, /^[a-z][a-z_]*\.[a-z0-9_]+$/, code);
    assert.ok(errnos.has(info.errno), `${code}: errno ${info.errno} is not in ERRNO`);
    assert.ok(info.description.trim().length > 10, `${code}: no description`);
  }
  for (const errno of Object.values(ERRNO)) assert.ok(isErrorCode(genericCode(errno)));
});

test("docs/errors.md is current (run `npm run gen:errors` after changing src/server/error-codes.ts)", () => {
  const committed = readFileSync(new URL("../../docs/errors.md", import.meta.url), "utf8");
  assert.ok(committed === renderErrorDocs(), "docs/errors.md is stale: run `npm run gen:errors` and commit the result");
  for (const code of Object.keys(ERROR_CODES)) assert.ok(committed.includes(`\`${code}\``), code);
});

test("a call error answers its code, and the errno the catalogue gives that code", () => {
  const o = errorObject(new CallError("Rate Limit Exceeded", "auth.rate_limited"));
  assert.equal(o.code, -32001);
  assert.deepEqual(o.data, { error: ERRNO.EBUSY, errname: "EBUSY", reason: "[EBUSY] Rate Limit Exceeded", trace: null, extra: null, code: "auth.rate_limited" });
  // Passing on a settled errno and code (a job's failure) keeps both.
  const passed = errorObject(new CallError("x", { errno: ERRNO.EINVAL, code: "user.username_taken" }));
  assert.equal(passed.data.error, ERRNO.EINVAL);
  assert.equal(passed.data.code, "user.username_taken");
});

test("validation errors: extra stays [attribute, message, errno]; codes line up with it, however triples travel", () => {
  const v = new ValidationErrors([["user_create.uid", "Uid 5 is already used", "user.uid_taken"]]);
  v.add("user_create.username", 'The username "a" already exists.', "user.username_taken");
  const other = new ValidationErrors();
  other.errors.push(fieldError("user_create.password", "too short", "password.too_short"));
  v.extend(other);
  v.errors.push(["user_create.shell", "made by hand", ERRNO.EINVAL]); // no code: the errno's generic one
  const o = errorObject(v);
  assert.equal(o.code, -32602);
  assert.equal(
    JSON.stringify(o.data.extra),
    JSON.stringify([
      ["user_create.uid", "Uid 5 is already used", 17],
      ["user_create.username", 'The username "a" already exists.', 17],
      ["user_create.password", "too short", 22],
      ["user_create.shell", "made by hand", 22],
    ]),
  );
  assert.deepEqual(o.data.codes, ["user.uid_taken", "user.username_taken", "password.too_short", "core.invalid_argument"]);
  assert.equal(o.data.code, "user.uid_taken");
  assert.equal(fieldErrorCode(v.errors[2]), "password.too_short");
});

test("instance not found, protocol errors and unknown failures carry codes", () => {
  assert.throws(
    () => instanceNotFound("User", 9, "user.not_found"),
    (e: unknown) => {
      const o = errorObject(e);
      return o.data.code === "user.not_found" && JSON.stringify(o.data.extra) === JSON.stringify([[null, "User 9 does not exist", ERRNO.ENOENT]]);
    },
  );
  const rpc = errorObject(new RpcError(-32601, "Method does not exist", undefined, "core.method_not_found"));
  assert.equal(rpc.code, -32601);
  assert.equal(rpc.data.code, "core.method_not_found");
  assert.equal(rpc.data.errname, "EINVAL");
  const unknown = errorObject(new TypeError("x is undefined"));
  assert.equal(unknown.data.code, "core.internal");
  assert.equal(unknown.data.errname, "EFAULT");
});

test("with GATEHOUSE_CHECK_RESULTS=1 the dispatcher will not answer a code missing from the catalogue", () => {
  const before = process.env.GATEHOUSE_CHECK_RESULTS;
  const forged = new CallError("x", { errno: ERRNO.EINVAL, code: "user.no_such_code" as ErrorCode });
  try {
    process.env.GATEHOUSE_CHECK_RESULTS = "1";
    const o = errorObject(forged);
    assert.equal(o.data.code, "core.uncatalogued_code");
    assert.match(String(o.data.reason), /user\.no_such_code/);
    const v = errorObject(new ValidationErrors([fieldError("a", "b", { errno: 22, code: "nope.nope" as ErrorCode })]));
    assert.equal(v.data.code, "core.uncatalogued_code");
    process.env.GATEHOUSE_CHECK_RESULTS = "0";
    assert.equal(errorObject(forged).data.code, "user.no_such_code");
  } finally {
    if (before === undefined) delete process.env.GATEHOUSE_CHECK_RESULTS;
    else process.env.GATEHOUSE_CHECK_RESULTS = before;
  }
});

test("codes survive the copies the dispatcher makes: secret scrubbing and a job's failure", () => {
  const def = { name: "test.secret", secretArgs: ["password"] } as unknown as MethodDef;
  const v = new ValidationErrors().add("password", "hunter22 is too short", "password.too_short").add("username", "x", "name.empty");
  const scrubbed = scrubError(v, def, ["hunter22"]) as ValidationErrors;
  assert.notEqual(scrubbed, v);
  assert.equal(scrubbed.errors[0][1].includes("hunter22"), false);
  assert.deepEqual(scrubbed.codes, ["password.too_short", "name.empty"]);
  const call = scrubError(new CallError("hunter22 refused", { errno: ERRNO.EINVAL, code: "auth.old_password_wrong" }), def, ["hunter22"]) as CallError;
  assert.equal(call.code, "auth.old_password_wrong");
  assert.equal(call.errno, ERRNO.EINVAL);

  const job = new Job(1, "test.job", [], { sessionId: null, username: null, internal: false }, null, false, false, { changed: () => {} } as unknown as ConstructorParameters<typeof Job>[7]);
  job.finish("FAILED", null, v);
  assert.equal(job.errorCode, "password.too_short");
  assert.equal(job.excInfo?.errno, ERRNO.EINVAL);
});
