// The fleet proxy: fleet.call(system, method, params) forwards one call to a managed system over
// its pooled, authenticated connection — after checking, on every call, the caller's effective
// access to the system (read from the store, and reused only while the store's change stamp says
// nothing it depends on changed, so a change of team or grant made by any process applies to the
// very next call once this process has heard of it — as every session's rights do):
//   NONE        the system does not exist for the caller (same answer as a missing system);
//   READ        only read methods (./remote-methods.ts), refused with EACCES before anything is
//               sent; the call goes through the system's read-only key when it has one;
//   READ_WRITE  any method.
// Session methods (login, logout, set_options, subscriptions) are never forwarded. A job method
// becomes a local job mirroring the remote one (state, progress; the remote job id in
// progress.extra). Errors from the system come back in their own shape with data.system added; a
// plain answer is passed on as the system's wire text (RawWire), not decoded and encoded again.

import type { Session } from "../auth/session.js";
import { CallError, ERRNO, RpcError, errnameOf, instanceNotFound, type ErrorCode } from "../server/errors.js";
import { isErrorCode } from "../server/error-codes.js";
import { stringifyWire } from "../server/ejson.js";
import type { Job, JobManager } from "../server/jobs.js";
import type { Connection } from "../server/connection.js";
import type { AuditContext } from "../audit/audit.js";
import { entryTexts, type CallAudit, type CallEntry, type EntryTexts } from "./call-audit.js";
import { effectiveAccess, subjectOfSession, type EffectiveLevel, type FleetSubject } from "./effective-access.js";
import { ConnectFailure, RemoteError, RemoteTimeout, type Endpoint, type RemoteConnection } from "./remote-connection.js";
import { neverProxied } from "./remote-methods.js";
import { fleetRuntime, type FleetRuntime } from "./runtime.js";
import { endpointOf, systemRow, type SystemRow } from "./system-endpoint.js";
import type { Slot } from "./connection-pool.js";

/** Largest parameters forwarded (bytes of JSON); the system's own limit for a session is 64 KiB. */
export const MAX_PROXY_PARAMS_BYTES = 60 * 1024;
const TERMINAL = new Set(["SUCCESS", "FAILED", "ABORTED"]);

let callTimeout: number | null = null;

/** The proxied call's time limit (GATEHOUSE_FLEET_CALL_TIMEOUT_MS, read once: process.env is slow to read on every call). */
function callTimeoutMs(): number {
  if (callTimeout === null) {
    const v = Number(process.env.GATEHOUSE_FLEET_CALL_TIMEOUT_MS);
    callTimeout = Number.isFinite(v) && v > 0 ? v : 60_000;
  }
  return callTimeout;
}

export interface ProxyCallContext {
  app: object & { jobs: Pick<JobManager, "start"> } & AuditContext;
  session: Session | null;
  conn: Connection;
  callId: string | number | null;
  auditSubject?: string;
}

type SystemRef = { id: number; name: string };

/** An error naming the system, in the appliance's error shape. */
function systemError(system: SystemRef, code: ErrorCode, errno: number, message: string): RpcError {
  return new RpcError(-32001, "Method call error", { error: errno, errname: errnameOf(errno), reason: `[${errnameOf(errno)}] ${message}`, trace: null, extra: null, system }, code);
}

/** The system's own error, unchanged in shape, with data.system added. */
function fromRemote(system: SystemRef, err: unknown): Error {
  if (err instanceof RemoteError) {
    const data: Record<string, unknown> = { ...(err.data ?? {}), system };
    const remoteCode = typeof data.code === "string" ? data.code : null;
    const code: ErrorCode = remoteCode && isErrorCode(remoteCode) ? remoteCode : "fleet.remote_error";
    if (remoteCode && code !== remoteCode) data.remote_code = remoteCode;
    return new RpcError(err.rpcCode, err.rpcMessage, data, code);
  }
  if (err instanceof RemoteTimeout) return systemError(system, "fleet.call_timeout", ERRNO.ETIMEDOUT, `System ${system.name} did not answer in time`);
  if (err instanceof ConnectFailure) return systemError(system, err.code, errnoOf(err.code), `System ${system.name}: ${err.message}`);
  return err as Error;
}

function errnoOf(code: ErrorCode): number {
  if (code === "fleet.system_key_unreadable") return ERRNO.EIO;
  return code === "fleet.system_tls" ? ERRNO.ESSLCERTVERIFICATIONERROR : code === "fleet.system_key_refused" ? ERRNO.EACCES : code === "fleet.system_protocol" ? ERRNO.EFAULT : ERRNO.EHOSTUNREACH;
}

/** What a proxied call needs of its target: the system, the caller's access, the endpoints to use. */
interface Target {
  row: SystemRow;
  system: SystemRef;
  access: Exclude<EffectiveLevel, "NONE">;
  main: Endpoint;
  /** The endpoint READ calls go through (the read-only key's, or main when there is none). */
  read: Endpoint;
  /** The event data texts of this caller's sent calls on this system, by method (see fastCall). */
  texts: Map<string, EntryTexts>;
}

/**
 * Targets by (caller, system), valid while the store's change stamp stays the same: every write to
 * the tables access is computed from (fleet_access, team_members, fleet_systems, system group
 * members; src/store/change-feed.ts) moves the stamp, in this process at once and from another
 * process one notification later (PostgreSQL) or at the next turn (SQLite's data_version) — the
 * same rule every session's rights follow. Without a stamp (PostgreSQL's listener is down) nothing
 * is reused. The whole map is dropped when the stamp moves.
 */
interface TargetCache {
  stamp: string | null;
  byKey: Map<string, Target>;
}
const targetCaches = new WeakMap<object, TargetCache>();
const TARGET_CACHE_MAX = 10_000;

/** The key of a caller: the decision depends on the account, administrator or not, and the read-only cap. */
function callerKey(subject: FleetSubject | null, systemId: number): string {
  if (!subject || subject.admin) return `A:${systemId}`;
  return `${subject.userId}:${subject.readonly ? 1 : 0}:${systemId}`;
}

/** The caller's target as decided while the store's stamp stood as it stands now; undefined: decide it (resolveTarget). */
function cachedTarget(rt: FleetRuntime, subject: FleetSubject | null, systemId: number): Target | undefined {
  const stamp = rt.app.store.changes.stamp();
  let cache = targetCaches.get(rt);
  if (!cache) targetCaches.set(rt, (cache = { stamp, byKey: new Map() }));
  if (cache.stamp !== stamp) {
    cache.stamp = stamp;
    cache.byKey.clear();
  }
  return stamp === null ? undefined : cache.byKey.get(callerKey(subject, systemId));
}

/** The system and the caller's access to it; a system the caller may not see does not exist. */
function targetOf(rt: FleetRuntime, session: Session | null, systemId: number): Target | Promise<Target> {
  const subject = session ? subjectOfSession(session) : null;
  return cachedTarget(rt, subject, systemId) ?? resolveTarget(rt, subject, systemId);
}

/** Decide the target from the store (a cache miss), keeping it while the stamp stands still. */
async function resolveTarget(rt: FleetRuntime, subject: FleetSubject | null, systemId: number): Promise<Target> {
  const changes = rt.app.store.changes;
  const stamp = changes.stamp();
  const cache = targetCaches.get(rt)!;
  const key = callerKey(subject, systemId);
  const db = rt.app.store.db;
  const [row, decision] = await Promise.all([systemRow(db, systemId), subject ? effectiveAccess(db, subject, systemId) : null]);
  const access = decision ? decision.access : "READ_WRITE";
  if (!row || access === "NONE") instanceNotFound("FleetSystem", systemId, "fleet.system_not_found");
  const system = { id: row.id, name: row.name };
  let main: Endpoint;
  let read: Endpoint;
  try {
    main = await endpointOf(rt.app, row, "main");
    read = row.read_api_key === null ? main : await endpointOf(rt.app, row, "read");
  } catch (err) {
    throw fromRemote(system, err);
  }
  const target: Target = { row, system, access, main, read, texts: new Map() };
  // Kept only when nothing was written meanwhile (the decision may already be stale otherwise).
  if (stamp !== null && changes.stamp() === stamp && cache.stamp === stamp) {
    if (cache.byKey.size >= TARGET_CACHE_MAX) cache.byKey.clear();
    cache.byKey.set(key, target);
  }
  return target;
}

/** The audit description of a call once the system and the caller's access are known (both paths write the same). */
function accessLabel(method: string, systemName: string, access: string): string {
  return `Fleet call ${method} on system ${systemName} with ${access} access`;
}

/** The event data of a proxied call's entry. The system's parameters may hold its secrets (a password for user.create): never audited. */
function callEventData(ctx: ProxyCallContext, systemId: number, method: string, label: string, authorized: boolean): Record<string, unknown> {
  return { method: "fleet.call", params: [systemId, method, "********"], description: label, authenticated: !!ctx.session, authorized };
}

/** What a call needs from its audit: its entry made durable before the call is sent (`beforeSend`; a promise: await it first). */
interface CallAuditing {
  beforeSend(): Promise<void> | undefined;
}

/**
 * Forward `method(params)` to system `systemId` as the caller may; every call that got past
 * argument checks is audited (user, system, method, access level, result): a call that is sent
 * has its entry in the call journal first (./call-audit.ts), its outcome is recorded after the
 * answer; a call refused or failed before sending is journaled with its outcome before it answers.
 */
export function proxyCall(ctx: ProxyCallContext, systemId: number, method: string, params: unknown[]): Promise<unknown> {
  return (ctx.session && fastCall(ctx, ctx.session, systemId, method, params)) || fullCall(ctx, systemId, method, params);
}

/** The event data of the caller's call of `method` on the target, as fullCall writes it for a call it sends (authorized). */
function sentCallData(ctx: ProxyCallContext, target: Target, method: string): Record<string, unknown> {
  return callEventData(ctx, target.row.id, method, accessLabel(method, target.row.name, target.access), true);
}

/** sentCallData's texts, kept on the target by method. */
function textsOf(ctx: ProxyCallContext, target: Target, method: string): EntryTexts {
  let texts = target.texts.get(method);
  if (!texts) {
    texts = entryTexts(sentCallData(ctx, target, method));
    if (target.texts.size >= 1024) target.texts.clear();
    target.texts.set(method, texts);
  }
  return texts;
}

/**
 * The common call, sent without an await of its own: the caller's target decided while the
 * store's stamp stood as it stands, the method's kind known, a free slot on the main key's
 * connection, a read method or READ_WRITE access, not a job, parameters within the limit.
 * Null: anything else — fullCall decides it, refuses it or opens what it needs, and audits it.
 * Audited as fullCall audits a sent call: the entry durable before sending, the outcome after.
 */
function fastCall(ctx: ProxyCallContext, session: Session, systemId: number, method: string, params: unknown[]): Promise<unknown> | null {
  const rt = fleetRuntime(ctx.app);
  const target = cachedTarget(rt, subjectOfSession(session), systemId);
  if (!target || neverProxied(method) || (target.access === "READ" && target.read !== target.main)) return null;
  const slot = rt.pool.takeSlot(target.row.id, target.main);
  if (!slot) return null;
  const info = rt.methods.cachedInfo(target.row.id, slot.conn, method);
  const paramsJson = info && !info.job && (info.read || target.access === "READ_WRITE") ? stringifyWire(params) : null;
  // UTF-8 takes at most 3 bytes a UTF-16 unit: most parameters need no count.
  if (paramsJson === null || (paramsJson.length * 3 > MAX_PROXY_PARAMS_BYTES && Buffer.byteLength(paramsJson) > MAX_PROXY_PARAMS_BYTES)) {
    slot.release();
    return null;
  }
  const texts = textsOf(ctx, target, method);
  const audit = rt.audit;
  return new Promise((resolve, reject) => {
    // Whatever happens, the slot is given back (a slot kept would make the pool think the connection full).
    const failed = (err: unknown) => {
      slot.release();
      reject(err);
    };
    try {
      enterAndSend(ctx, session, audit, target, texts, slot, method, paramsJson, resolve, failed);
    } catch (err) {
      failed(err);
    }
  });
}

/** fastCall's send: the entry durable first, then the call on the slot's connection; the outcome recorded after the answer. */
function enterAndSend(
  ctx: ProxyCallContext,
  session: Session,
  audit: CallAudit,
  target: Target,
  texts: EntryTexts,
  slot: Slot,
  method: string,
  paramsJson: string,
  resolve: (result: unknown) => void,
  failed: (err: unknown) => void,
): void {
  audit.enterThen(ctx.conn, session, texts, (entry, notAudited) => {
    if (notAudited) {
      // Not sent: recorded as fullCall records a call that failed before sending.
      audit.record({ event: "METHOD_CALL", eventData: sentCallData(ctx, target, method), success: false, conn: ctx.conn, session });
      failed(notAudited);
      return;
    }
    slot.conn.callRaw(method, paramsJson, callTimeoutMs()).then(
      (result) => {
        slot.release();
        audit.finish(entry, true);
        resolve(result);
      },
      (err) => {
        audit.finish(entry, false);
        failed(fromRemote(target.system, err));
      },
    );
  });
}

/** Any call (fastCall's common one too): target, refusals, job mirroring, every branch audited. */
async function fullCall(ctx: ProxyCallContext, systemId: number, method: string, params: unknown[]): Promise<unknown> {
  const audit: CallAudit = fleetRuntime(ctx.app).audit;
  let label = `Fleet call ${method} on system ${systemId}`;
  let authorized = true;
  let entry: CallEntry | null = null;
  const auditing: CallAuditing = {
    beforeSend: () => {
      if (entry) return undefined;
      // (the label and `authorized` are final by now: the outcome's event data is the same, without "answered": false)
      const entered = audit.enter({ event: "METHOD_CALL", eventData: callEventData(ctx, systemId, method, label, authorized), success: false, conn: ctx.conn, session: ctx.session });
      if (!(entered instanceof Promise)) {
        entry = entered;
        return undefined;
      }
      return entered.then((e) => {
        entry = e;
      });
    },
  };

  const outcome = (success: boolean) => {
    if (entry) audit.finish(entry, success);
    else audit.record({ event: "METHOD_CALL", eventData: callEventData(ctx, systemId, method, label, authorized), success, conn: ctx.conn, session: ctx.session });
  };
  try {
    const result = await forward(
      ctx,
      systemId,
      method,
      params,
      (l) => (label = l),
      () => (authorized = false),
      auditing,
    );
    outcome(true);
    return result;
  } catch (err) {
    outcome(false);
    throw err;
  }
}

/** `auditing.beforeSend` runs (and is awaited when it answers a promise) right before anything is sent to the system (the call's entry is durable then). */
async function forward(ctx: ProxyCallContext, systemId: number, method: string, params: unknown[], setLabel: (l: string) => void, refused: () => void, auditing: CallAuditing): Promise<unknown> {
  const rt = fleetRuntime(ctx.app);
  const paramsJson = stringifyWire(params);
  const size = Buffer.byteLength(paramsJson);
  if (size > MAX_PROXY_PARAMS_BYTES) throw new CallError(`Parameters of ${size} bytes exceed the proxy's limit of ${MAX_PROXY_PARAMS_BYTES}`, "fleet.call_params_too_large");
  const found = targetOf(rt, ctx.session, systemId);
  const { row, system, access, main, read } = found instanceof Promise ? await found : found;
  setLabel(accessLabel(method, row.name, access));
  if (neverProxied(method)) {
    refused();
    throw systemError(system, "fleet.method_not_proxied", ERRNO.EPERM, `${method} is a session method and is never forwarded`);
  }
  const timeout = callTimeoutMs();
  try {
    const ep = access === "READ" ? read : main;
    // The method's kind, from the system's own list (fetched over the main key's connection);
    // the common call (not a job, through the main key) is sent in the same connection slot.
    const kind = await rt.pool.run(row.id, main, async (conn) => {
      const info = rt.methods.cachedInfo(row.id, conn, method) ?? (await rt.methods.info(row.id, conn, method));
      if (access === "READ" && !info.read) {
        refused();
        throw systemError(system, "fleet.call_forbidden", ERRNO.EACCES, `${method}: your access to system ${row.name} is READ, and this is not a read method`);
      }
      if (info.job) return { job: true as const };
      if (ep !== main) return { job: false as const };
      const entered = auditing.beforeSend();
      if (entered) await entered;
      return { job: false as const, result: await conn.callRaw(method, paramsJson, timeout) };
    });
    if ("result" in kind) return kind.result;
    if (!kind.job)
      return await rt.pool.run(row.id, ep, async (conn) => {
        const entered = auditing.beforeSend();
        if (entered) await entered;
        return conn.callRaw(method, paramsJson, timeout);
      });
    return await mirrorJob(ctx, rt, row, ep, method, params, timeout, auditing);
  } catch (err) {
    throw fromRemote(system, err);
  }
}

/** Start `method` on the system as a job and mirror it as a local one. */
async function mirrorJob(ctx: ProxyCallContext, rt: FleetRuntime, row: SystemRow, ep: Endpoint, method: string, params: unknown[], timeout: number, auditing: CallAuditing): Promise<unknown> {
  const system = { id: row.id, name: row.name };
  const { conn, remoteId } = await rt.pool.run(row.id, ep, async (c) => {
    await c.subscribeJobs(timeout);
    await auditing.beforeSend();
    const id = await c.call(method, params, timeout);
    if (typeof id !== "number") throw new ConnectFailure("fleet.system_protocol", `${method}: the system answered no job id`);
    return { conn: c, remoteId: id };
  });
  const session = ctx.session;
  const job = ctx.app.jobs.start(
    "fleet.call",
    [row.id, method, "********"],
    { sessionId: session?.id ?? null, username: session?.username ?? null, internal: !!session?.internal },
    { description: `${method} on system ${row.name}`, messageId: ctx.callId },
    (local) => followRemoteJob(local, conn, remoteId, system),
  );
  if (ctx.conn.options.legacy_jobs) return job.id;
  await job.done;
  if (job.state === "SUCCESS") return job.result;
  throw systemError(system, job.errorCode ?? "fleet.remote_error", job.excInfo?.errno ?? ERRNO.EFAULT, job.error ?? "Remote job failed");
}

/** Resolve with the remote job's result, copying its progress into the local job. */
function followRemoteJob(local: Job, conn: RemoteConnection, remoteId: number, system: SystemRef): Promise<unknown> {
  local.setProgress(0, "", { remote_job_id: remoteId, system });
  return new Promise((resolve, reject) => {
    let done = false;
    let stopJob = () => {};
    const unClose = conn.onClose((reason) => {
      if (done) return;
      done = true;
      stopJob();
      reject(new CallError(`System ${system.name}: connection lost while job ${remoteId} ran (${reason})`, "fleet.system_unreachable"));
    });
    stopJob = conn.onJob(remoteId, (fields) => {
      if (done) return;
      const p = (fields.progress ?? {}) as { percent?: number | null; description?: string | null };
      local.setProgress(typeof p.percent === "number" ? p.percent : null, p.description ?? null, { remote_job_id: remoteId, system });
      const state = String(fields.state ?? "");
      if (!TERMINAL.has(state)) return;
      done = true;
      stopJob();
      unClose();
      if (state === "SUCCESS") return resolve(fields.result);
      const exc = (fields.exc_info ?? null) as { errno?: number; extra?: unknown } | null;
      reject(new CallError(String(fields.error ?? `Remote job ${remoteId} ended ${state}`), { errno: exc?.errno ?? ERRNO.EFAULT, code: "fleet.remote_error" }, exc?.extra ?? null));
    });
    if (done) stopJob();
  });
}
