// The fleet proxy: fleet.call(system, method, params) forwards one call to a managed system over
// its pooled, authenticated connection — after checking, on every call, the caller's effective
// access to the system (read from the store, so a change of team or grant made by any process
// applies to the very next call):
//   NONE        the system does not exist for the caller (same answer as a missing system);
//   READ        only read methods (./remote-methods.ts), refused with EACCES before anything is
//               sent; the call goes through the system's read-only key when it has one;
//   READ_WRITE  any method.
// Session methods (login, logout, set_options, subscriptions) are never forwarded. A job method
// becomes a local job mirroring the remote one (state, progress; the remote job id in
// progress.extra). Errors from the system come back in their own shape with data.system added.

import type { Session } from "../auth/session.js";
import { CallError, ERRNO, RpcError, errnameOf, instanceNotFound, type ErrorCode } from "../server/errors.js";
import { isErrorCode } from "../server/error-codes.js";
import { stringifyWire } from "../server/ejson.js";
import type { Job, JobManager } from "../server/jobs.js";
import type { Connection } from "../server/connection.js";
import type { AuditContext } from "../audit/audit.js";
import { GroupedAuditWriter } from "./call-audit.js";
import { effectiveAccess, subjectOfSession, type EffectiveLevel } from "./effective-access.js";
import { ConnectFailure, RemoteError, RemoteTimeout, type RemoteConnection } from "./remote-connection.js";
import { neverProxied } from "./remote-methods.js";
import { fleetRuntime, type FleetRuntime } from "./runtime.js";
import { endpointOf, systemRow, type SystemRow } from "./system-endpoint.js";

/** Largest parameters forwarded (bytes of JSON); the system's own limit for a session is 64 KiB. */
export const MAX_PROXY_PARAMS_BYTES = 60 * 1024;
const TERMINAL = new Set(["SUCCESS", "FAILED", "ABORTED"]);

function callTimeoutMs(): number {
  const v = Number(process.env.GATEHOUSE_FLEET_CALL_TIMEOUT_MS);
  return Number.isFinite(v) && v > 0 ? v : 60_000;
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
  return code === "fleet.system_tls" ? ERRNO.ESSLCERTVERIFICATIONERROR : code === "fleet.system_key_refused" ? ERRNO.EACCES : code === "fleet.system_protocol" ? ERRNO.EFAULT : ERRNO.EHOSTUNREACH;
}

/** The system and the caller's access to it; a system the caller may not see does not exist. */
async function resolveTarget(rt: FleetRuntime, session: Session | null, systemId: number): Promise<{ row: SystemRow; access: Exclude<EffectiveLevel, "NONE"> }> {
  const db = rt.app.store.db;
  const [row, decision] = await Promise.all([systemRow(db, systemId), session ? effectiveAccess(db, subjectOfSession(session), systemId) : null]);
  const access = session ? decision!.access : "READ_WRITE";
  if (!row || access === "NONE") instanceNotFound("FleetSystem", systemId, "fleet.system_not_found");
  return { row, access };
}

const auditWriters = new WeakMap<object, GroupedAuditWriter>();

/** Audit one proxied call (user, system, method, access level, result), committed in groups. */
function auditCall(ctx: ProxyCallContext, systemId: number, method: string, label: string, authorized: boolean, success: boolean): Promise<void> {
  let w = auditWriters.get(ctx.app);
  if (!w) auditWriters.set(ctx.app, (w = new GroupedAuditWriter(ctx.app)));
  // The system's parameters may hold its secrets (a password for user.create): never audited.
  const eventData = { method: "fleet.call", params: [systemId, method, "********"], description: label, authenticated: !!ctx.session, authorized };
  return w.write({ event: "METHOD_CALL", eventData, success, conn: ctx.conn, session: ctx.session });
}

/** Forward `method(params)` to system `systemId` as the caller may; every call is audited (once it got past argument checks). */
export async function proxyCall(ctx: ProxyCallContext, systemId: number, method: string, params: unknown[]): Promise<unknown> {
  let label = `Fleet call ${method} on system ${systemId}`;
  let authorized = true;
  try {
    const result = await forward(
      ctx,
      systemId,
      method,
      params,
      (l) => (label = l),
      () => (authorized = false),
    );
    await auditCall(ctx, systemId, method, label, authorized, true);
    return result;
  } catch (err) {
    await auditCall(ctx, systemId, method, label, authorized, false);
    throw err;
  }
}

async function forward(ctx: ProxyCallContext, systemId: number, method: string, params: unknown[], setLabel: (l: string) => void, refused: () => void): Promise<unknown> {
  const rt = fleetRuntime(ctx.app);
  const size = Buffer.byteLength(stringifyWire(params));
  if (size > MAX_PROXY_PARAMS_BYTES) throw new CallError(`Parameters of ${size} bytes exceed the proxy's limit of ${MAX_PROXY_PARAMS_BYTES}`, "fleet.call_params_too_large");
  const { row, access } = await resolveTarget(rt, ctx.session, systemId);
  const system = { id: row.id, name: row.name };
  setLabel(`Fleet call ${method} on system ${row.name} with ${access} access`);
  if (neverProxied(method)) {
    refused();
    throw systemError(system, "fleet.method_not_proxied", ERRNO.EPERM, `${method} is a session method and is never forwarded`);
  }
  const timeout = callTimeoutMs();
  try {
    const main = await endpointOf(rt.app, row, "main");
    // The method's kind, from the system's own list (fetched over the main key's connection).
    const info = await rt.pool.run(row.id, main, (conn) => rt.methods.info(row.id, conn, method));
    if (access === "READ" && !info.read) {
      refused();
      throw systemError(system, "fleet.call_forbidden", ERRNO.EACCES, `${method}: your access to system ${row.name} is READ, and this is not a read method`);
    }
    const ep = access === "READ" && row.read_api_key !== null ? await endpointOf(rt.app, row, "read") : main;
    if (!info.job) return await rt.pool.run(row.id, ep, (conn) => conn.call(method, params, timeout));
    return await mirrorJob(ctx, rt, row, ep, method, params, timeout);
  } catch (err) {
    throw fromRemote(system, err);
  }
}

/** Start `method` on the system as a job and mirror it as a local one. */
async function mirrorJob(ctx: ProxyCallContext, rt: FleetRuntime, row: SystemRow, ep: Awaited<ReturnType<typeof endpointOf>>, method: string, params: unknown[], timeout: number): Promise<unknown> {
  const system = { id: row.id, name: row.name };
  const { conn, remoteId } = await rt.pool.run(row.id, ep, async (c) => {
    await c.subscribeJobs(timeout);
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
