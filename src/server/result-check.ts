// Result checking (tests only): with GATEHOUSE_CHECK_RESULTS=1 (set by test/harness.ts and
// test/process-harness.ts, never in production) the dispatcher validates every result against its
// method's `returns` schema, so a result that drifts from what core.get_methods, docs/api.md and
// the web UI's types promise fails loudly in the tests instead of surprising a client.

import { zodIssuesToFieldErrors, type MethodDef } from "../api/method.js";
import { CallError } from "./errors.js";
import { RawWire, fromWire } from "./ejson.js";

let enabled: boolean | undefined;

/** Read once, on the first call (the harness sets the variable before it starts a server). */
export function resultChecksEnabled(): boolean {
  return (enabled ??= process.env.GATEHOUSE_CHECK_RESULTS === "1");
}

/** `result`, if it matches `def.returns`; else an EFAULT naming the method and the first bad paths. */
export function checkResult(def: MethodDef, result: unknown): unknown {
  // A result kept as wire text is checked as the client will decode it.
  const r = def.returns.safeParse(result instanceof RawWire ? fromWire(JSON.parse(result.json)) : result);
  if (r.success) return result;
  const problems = zodIssuesToFieldErrors("result", r.error.issues)
    .slice(0, 5)
    .map(([path, message]) => `${path}: ${message}`);
  throw new CallError(`${def.name}: result does not match its declared schema (GATEHOUSE_CHECK_RESULTS): ${problems.join("; ")}`, "core.result_mismatch");
}
