// JSON-RPC 2.0 framing and the dispatcher (reference §8.2, §5.4, §7.9): parse, size and
// concurrency limits, method lookup, authentication, authorization, validation, audit, jobs,
// secret redaction, error objects.

import { CallError, ERRNO, RpcError, ValidationErrors, errnameOf } from "./errors.js";
import { isErrorCode } from "./error-codes.js";
import { RawWire, fromWire, stringifyWire } from "./ejson.js";
import { paramsDepthError } from "./input-bounds.js";
import { parseArgs, type AuditFacts, type MethodDef } from "../api/method.js";
import { authorize } from "../access/authorize.js";
import { enforceOwnership, hasOwnershipRule } from "../access/targets.js";
import { auditMethodCall } from "../audit/method-call.js";
import { redactCallParams, scrubError, secretArgValues } from "../audit/secret-args.js";
import { findSecretReference, secretSet, type SecretSet } from "../store/query-secrets.js";
import type { HandlerApp } from "../api/method.js";
import type { Connection } from "./connection.js";
import type { CallContext } from "../api/context.js";
import type { Session } from "../auth/session.js";
import { checkRateLimit } from "../auth/rate-limit.js";
import { checkResult, resultChecksEnabled } from "./result-check.js";
import { mustRedact, redactAlways, redactedCopy, redactResult } from "./redact.js";

export { redactAlways, redactResult };

/**
 * What the dispatcher needs of the application: what handlers see, and the count of calls in
 * flight for a graceful shutdown. src/app.ts App satisfies it; the dispatcher does not import it.
 */
export interface DispatchApp extends HandlerApp {
  inflight: number;
  emitIdle(): void;
}

export const MAX_CONCURRENT_CALLS = 20;
export const MAX_ANON_MESSAGE = 8192;
export const MAX_AUTH_MESSAGE = 64 * 1024;

type Id = string | number | null;

export function errorObject(err: unknown): { code: number; message: string; data: Record<string, unknown> } {
  const uncatalogued = uncataloguedCode(err);
  if (uncatalogued) return errorObject(new CallError(`error code ${JSON.stringify(uncatalogued)} is not in the catalogue`, "core.uncatalogued_code"));
  if (err instanceof ValidationErrors) {
    const codes = err.codes;
    return {
      code: -32602,
      message: "Invalid params",
      data: {
        error: ERRNO.EINVAL,
        errname: "EINVAL",
        reason: err.errors.map(([a, m, e]) => `[${errnameOf(e)}] ${a ?? ""}: ${m}`).join("\n"),
        trace: null,
        extra: err.errors,
        // Stable codes: `codes[i]` names `extra[i]`; `code` is the first one's.
        code: codes[0] ?? "core.invalid_argument",
        codes,
      },
    };
  }
  if (err instanceof CallError) {
    return {
      code: -32001,
      message: "Method call error",
      data: { error: err.errno, errname: err.errname, reason: `[${err.errname}] ${err.message}`, trace: null, extra: err.extra ?? null, code: err.code },
    };
  }
  if (err instanceof RpcError) {
    const data = (err.data as Record<string, unknown> | undefined) ?? {};
    return {
      code: err.code,
      message: err.message,
      data: { error: ERRNO.EINVAL, errname: "EINVAL", reason: err.message, trace: null, extra: null, ...data, code: err.errorCode },
    };
  }
  const message = err instanceof Error ? err.message : String(err);
  return {
    code: -32001,
    message: "Method call error",
    data: { error: ERRNO.EFAULT, errname: "EFAULT", reason: `[EFAULT] ${message}`, trace: null, extra: null, code: "core.internal" },
  };
}

/**
 * Tests only (GATEHOUSE_CHECK_RESULTS=1): a code that is not in the catalogue (only reachable past
 * the types, e.g. a cast or a code carried in from elsewhere) — answered as core.uncatalogued_code,
 * so the test expecting the real error fails and names it.
 */
function uncataloguedCode(err: unknown): string | null {
  if (process.env.GATEHOUSE_CHECK_RESULTS !== "1") return null;
  const codes = err instanceof ValidationErrors ? err.codes : err instanceof CallError ? [err.code] : err instanceof RpcError ? [err.errorCode] : [];
  return codes.find((c) => !isErrorCode(c)) ?? null;
}

// Answers go out while the call still counts in `conn.inflight`: 1 means it is the only one.
function reply(conn: Connection, id: Id, result: unknown): void {
  // A result kept as wire text (a proxied system's answer) is spliced in as it came.
  if (result instanceof RawWire) conn.send(`{"jsonrpc":"2.0","id":${JSON.stringify(id)},"result":${result.json}}`, conn.inflight === 1);
  else conn.send(stringifyWire({ jsonrpc: "2.0", id, result }), conn.inflight === 1);
}

function replyError(conn: Connection, id: Id, err: unknown): void {
  conn.send(JSON.stringify({ jsonrpc: "2.0", id, error: errorObject(err) }), conn.inflight === 1);
}

/** Handle one WebSocket text frame. Never throws. */
export async function handleMessage(app: DispatchApp, conn: Connection, text: string): Promise<void> {
  // Whatever this request checks is checked against every commit made before it arrived.
  app.store.changes.callArrived();
  const limit = conn.session ? MAX_AUTH_MESSAGE : MAX_ANON_MESSAGE;
  if (Buffer.byteLength(text) > limit) {
    if (conn.session) conn.close(1009, "Max message length is 64 kB");
    else conn.close(1007, "Anonymous connection max message length is 8 kB");
    return;
  }
  let msg: unknown;
  try {
    msg = JSON.parse(text);
  } catch (err) {
    replyError(conn, null, new RpcError(-32700, (err as Error).message, undefined, "core.parse_error"));
    return;
  }
  if (Array.isArray(msg)) {
    replyError(conn, null, new RpcError(-32700, "Batch messages are not supported at this time", undefined, "core.batch_not_supported"));
    return;
  }
  const req = msg as Record<string, unknown>;
  const hasId = req && typeof req === "object" && "id" in req;
  const id = hasId ? (req.id as Id) : null;
  const invalid = validateRequest(req);
  if (invalid) {
    replyError(conn, typeof id === "string" || typeof id === "number" ? id : null, new RpcError(-32600, invalid, undefined, "core.invalid_request"));
    return;
  }
  if (conn.inflight >= MAX_CONCURRENT_CALLS) {
    if (hasId) replyError(conn, id, new RpcError(-32000, `Maximum number of concurrent calls (${MAX_CONCURRENT_CALLS}) has exceeded`, undefined, "core.too_many_calls"));
    return;
  }
  conn.inflight++;
  app.inflight++;
  try {
    const result = await callMethod(app, conn, req.method as string, (req.params as unknown[] | undefined) ?? [], id);
    if (hasId) reply(conn, id, result);
  } catch (err) {
    if (!(err instanceof ValidationErrors || err instanceof CallError || err instanceof RpcError)) {
      app.log.error({ err, method: req.method }, "method failed");
    }
    if (hasId) replyError(conn, id, err);
  } finally {
    conn.inflight--;
    app.inflight--;
    if (app.inflight === 0) app.emitIdle();
  }
}

function validateRequest(req: Record<string, unknown>): string | null {
  if (!req || typeof req !== "object") return "Invalid Request";
  if (req.jsonrpc !== "2.0") return 'Invalid Request: jsonrpc must be "2.0"';
  if (typeof req.method !== "string") return "Invalid Request: method must be a string";
  if ("params" in req && req.params !== undefined && !Array.isArray(req.params)) return "Invalid Request: params must be an array";
  if ("id" in req && req.id !== null && typeof req.id !== "string" && typeof req.id !== "number") return "Invalid Request: invalid id";
  return null;
}

/**
 * The call's audit description (from parsed args, or raw params when they did not parse, then what
 * the handler recorded: AuditFacts); null: not audited.
 */
function auditLabel(def: MethodDef, args: unknown[], facts: AuditFacts = {}): string | null {
  if (!def.audit) return null;
  try {
    // One slot per declared argument, so the facts always follow them.
    return typeof def.audit === "string" ? def.audit : def.audit(...def.args.map((_, i) => args[i]), facts);
  } catch {
    return def.name;
  }
}

/** Write the METHOD_CALL audit entry of a call, when it has a label. */
async function auditCall(app: HandlerApp, conn: Connection, session: Session | null, name: string, params: unknown[], label: string | null, authorized: boolean, success: boolean): Promise<void> {
  if (label === null) return;
  await auditMethodCall(app, conn, session, name, params, label, authorized, success);
}

/** Positions of a query method's `filters` and `options` arguments (the *.query convention). */
const queryArgCache = new WeakMap<MethodDef, { filters: number; options: number; secrets: SecretSet }>();

/**
 * A session that may not see `def`'s secret fields may not name them in the query either (select
 * with any alias, order_by, any filter): redaction decides by the source field, and a filter on a
 * hash would answer questions about its value. Throws EPERM naming the field.
 */
function refuseSecretQuery(def: MethodDef, args: unknown[]): void {
  let at = queryArgCache.get(def);
  if (!at) {
    at = { filters: def.args.findIndex((a) => a.name === "filters"), options: def.args.findIndex((a) => a.name === "options"), secrets: secretSet(def.secretFields!) };
    queryArgCache.set(def, at);
  }
  if (at.filters < 0 && at.options < 0) return;
  const field = findSecretReference(at.secrets, at.filters < 0 ? undefined : args[at.filters], at.options < 0 ? undefined : args[at.options]);
  if (field !== null) {
    throw new CallError(`${field}: secret field; filtering, ordering or selecting by it requires the ${def.secretsRole ?? "FULL_ADMIN"} role`, "core.secret_field_forbidden");
  }
}

/** The error of a failed call with its secret arguments' values taken out (see scrubError). */
function scrubCallError(app: HandlerApp, def: MethodDef, rawParams: unknown[], err: unknown): unknown {
  return scrubError(err, def, secretArgValues(app.registry, def, Array.isArray(rawParams) ? rawParams : []));
}

/**
 * Call a method as `conn`'s session. Used by WebSocket frames, one-shot HTTP calls and the CLI.
 * Rejects with ValidationErrors / CallError / RpcError.
 *
 * Not an async function: the common call (a session that may call the method, valid arguments, no
 * audit entry, no job) goes from lookup to handler without an async frame or an await of its own;
 * anything else continues in `dispatchSlow`, which does exactly what this fast path skips.
 */
export function callMethod(app: HandlerApp, conn: Connection, name: string, rawParams: unknown[], callId: Id): Promise<unknown> {
  let def: MethodDef | undefined;
  try {
    def = app.registry.get(name);
    if (!def || (def.private && !conn.options.private_methods) || (def.removedIn && conn.apiVersion >= def.removedIn)) {
      throw new RpcError(-32601, "Method does not exist", undefined, "core.method_not_found");
    }
    const d = def;
    // Nesting bounded before any recursive walk (decoders, validators): EINVAL, not a stack overflow.
    const tooDeep = rawParams.length ? paramsDepthError(d.args, rawParams) : null;
    if (tooDeep) throw tooDeep;
    const refreshing = conn.session ? app.auth.refreshSession(conn) : undefined;
    let running = refreshing ? refreshing.then(() => dispatch(app, conn, d, rawParams, callId)) : dispatch(app, conn, d, rawParams, callId);
    // Tests only (GATEHOUSE_CHECK_RESULTS=1): the result must match the method's `returns`.
    if (resultChecksEnabled() && !(d.job && conn.options.legacy_jobs)) running = running.then((r) => checkResult(d, r));
    // Errors leave with the call's secret arguments taken out: answers, logs, core.bulk results.
    return d.secretArgs?.length ? running.catch((err) => Promise.reject(scrubCallError(app, d, rawParams, err))) : running;
  } catch (err) {
    return Promise.reject(def?.secretArgs?.length ? scrubCallError(app, def, rawParams, err) : err);
  }
}

/** After the session check: authorize, validate, run, audit, redact. */
function dispatch(app: HandlerApp, conn: Connection, def: MethodDef, rawParams: unknown[], callId: Id): Promise<unknown> {
  const session = conn.session;
  const params = fromWire(rawParams) as unknown[];
  if (!session || def.job || def.audit || hasOwnershipRule(def) || authorize(def, session) !== "ALLOW") return dispatchSlow(app, conn, def, session, params, callId);
  let args: unknown[];
  try {
    args = parseArgs(def, params);
  } catch {
    // Invalid arguments: the slow path validates again and answers (unaudited methods write nothing).
    return dispatchSlow(app, conn, def, session, params, callId);
  }
  const fields = def.secretFields;
  const redact = !!fields?.length && mustRedact(def, session);
  if (redact) refuseSecretQuery(def, args);
  const result = Promise.resolve(def.handler({ app, conn, session, callId }, ...args));
  return redact ? result.then((r) => redactedCopy(r, fields!)) : result;
}

async function dispatchSlow(app: HandlerApp, conn: Connection, def: MethodDef, session: Session | null, params: unknown[], callId: Id): Promise<unknown> {
  const name = def.name;
  const decision = authorize(def, session);
  if (decision !== "ALLOW") {
    await auditCall(app, conn, session, name, params, auditLabel(def, params), false, false);
    if (decision === "NOT_AUTHENTICATED") throw new CallError("Not authenticated", "core.not_authenticated");
    throw new CallError("Not authorized", "core.not_authorized");
  }
  if (!session && def.rateLimit) await checkRateLimit(app, conn, def.name);

  let args: unknown[];
  try {
    args = parseArgs(def, params);
  } catch (err) {
    await auditCall(app, conn, session, name, params, auditLabel(def, params), true, false);
    throw err;
  }
  // Ownership (`owner`, `targets`): who the call acts on, checked on the validated arguments.
  let rowScope: CallContext["rowScope"];
  try {
    rowScope = await enforceOwnership(app, def, session, args);
  } catch (err) {
    await auditCall(app, conn, session, name, params, auditLabel(def, args), false, false);
    throw err;
  }
  const label = auditLabel(def, args);
  const ctx: CallContext = { app, conn, session, callId, rowScope };
  if (def.secretFields?.length && mustRedact(def, session)) {
    try {
      refuseSecretQuery(def, args);
    } catch (err) {
      await auditCall(app, conn, session, name, params, label, true, false);
      throw err;
    }
  }
  if (def.job) return runAsJob(app, conn, def, def.job, ctx, params, args, label);

  if (label === null) return redactResult(def, session, await def.handler(ctx, ...args));
  // The label is made after the handler ran, from what it recorded (the account's name as read).
  let result: unknown;
  try {
    result = await def.handler(ctx, ...args);
  } catch (err) {
    await auditCall(app, conn, session, name, params, auditLabel(def, args, { subject: ctx.auditSubject }), true, false);
    throw err;
  }
  await auditCall(app, conn, session, name, params, auditLabel(def, args, { subject: ctx.auditSubject }), true, true);
  return redactResult(def, session, result);
}

/** A method that runs as a job: answers with the job id (legacy_jobs) or its (redacted) result. */
async function runAsJob(
  app: HandlerApp,
  conn: Connection,
  def: MethodDef,
  opts: Exclude<MethodDef["job"], false>,
  ctx: CallContext,
  params: unknown[],
  args: unknown[],
  label: string | null,
): Promise<unknown> {
  const { session, callId } = ctx;
  const name = def.name;
  let jobCtx: CallContext | undefined;
  const audit = (success: boolean) => auditCall(app, conn, session, name, params, label === null ? null : auditLabel(def, args, { subject: jobCtx?.auditSubject }), true, success);
  const job = app.jobs.start(
    name,
    redactCallParams(app.registry, def, params),
    { sessionId: session?.id ?? null, username: session?.username ?? null, internal: !!session?.internal, credentials: session?.credentials },
    { description: opts.description ? opts.description(...args) : null, abortable: opts.abortable, transient: opts.transient, messageId: callId },
    async (job) => {
      try {
        jobCtx = { ...ctx, job };
        const result = await def.handler(jobCtx, ...args);
        job.publicResult = redactResult(def, session, result);
        await audit(true);
        return result;
      } catch (err) {
        await audit(false);
        // The job keeps its error for listings and events: without the secret arguments.
        throw def.secretArgs?.length ? scrubError(err, def, secretArgValues(app.registry, def, params)) : err;
      }
    },
  );
  if (conn.options.legacy_jobs) return job.id;
  await job.done;
  // The job already redacted its result for listings: the same session, the same copy.
  if (job.state === "SUCCESS") return job.publicResult;
  throw new CallError(job.error ?? "Job failed", { errno: job.excInfo?.errno ?? ERRNO.EFAULT, code: job.errorCode ?? "core.internal" }, job.excInfo?.extra ?? null);
}
