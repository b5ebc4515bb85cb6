// Managed systems (fleet.system.*): create, update, delete, list and status. Keys are sealed at
// rest with the store's secret box and never returned. Creating or updating a system tests the
// connection (unless `force`): a failure is a validation error naming the reason with a stable
// code. Deleting a system removes its grants and group memberships in one transaction.

import type { Session } from "../auth/session.js";
import type { Tx } from "../store/db.js";
import { ValidationErrors, instanceNotFound, validationError } from "../server/errors.js";
import { queryRows } from "../store/query-rows.js";
import { effectiveAccess, subjectOfSession, type FleetAccessLevel } from "./effective-access.js";
import { fleetIndex, idsOf, isCurrent, userPart, type FleetIndex, type FleetStore } from "./access-index.js";
import { sql } from "kysely";
import { param, prepare } from "../auth/prepared.js";
import { RemoteConnection, ConnectFailure } from "./remote-connection.js";
import { fleetRuntime, type FleetRuntime } from "./runtime.js";
import { KEY_PLACEHOLDER, type FleetSystemEntry, type FleetSystemStatus, type SystemCreate, type SystemUpdate } from "./system-schemas.js";
import { API_KEY_PURPOSE, READ_API_KEY_PURPOSE, caPem, endpointOf, systemRow, urlProblem, type SystemRow } from "./system-endpoint.js";
import { failedStatus, probeSystem, readStatuses, unknownStatus, writeStatus } from "./system-status.js";
import { changeOf, type ChangeEvent } from "../store/change-event.js";
import { recordChange } from "../store/changes.js";

/** What a fleet.system handler passes: its application (the runtime is found from it) and session. */
export interface SystemCallContext {
  app: { changed(ev: ChangeEvent): void };
  session: Session | null;
  auditSubject?: string;
}

const CONNECT_TEST_TIMEOUT_MS = 10_000;

/** May the session see every system (administrators, FLEET_READ), or only those it has access to? */
function seesAll(session: Session | null): boolean {
  return !session || session.internal || session.fullAdmin || session.roles.has("FLEET_READ") || session.roles.has("FULL_ADMIN");
}

/** Above this many systems a listing reads every status instead of naming the ids. */
const BY_ID_LIMIT = 500;

/**
 * The caller's access to each system it may see, from the index (null: every system — READ_WRITE
 * for administrators, as listed for FLEET_READ).
 */
async function visibleAccess(store: FleetStore, ix: FleetIndex, session: Session | null): Promise<Map<number, FleetAccessLevel> | null> {
  if (!session) return null;
  const subject = subjectOfSession(session);
  if (subject.admin) return null;
  return ix.accessBySystem(await userPart(store, ix, subject.userId), !!subject.readonly);
}

/**
 * Entries of the systems with the given ids (all when omitted), as `session` sees them: systems,
 * groups and access from the fleet index (./access-index.ts, one version of the store, rebuilt after
 * any change), statuses (written by the poller) from the store.
 */
async function entries(rt: FleetRuntime, session: Session | null, onlyIds?: number[]): Promise<FleetSystemEntry[]> {
  const store = rt.app.store;
  const ix = await fleetIndex(store);
  const access = await visibleAccess(store, ix, session);
  const all = seesAll(session);
  let ids: number[];
  if (onlyIds) ids = [...new Set(onlyIds)].filter((id) => ix.systems.has(id) && (all || !access || access.has(id))).sort((a, b) => a - b);
  else if (all || !access) ids = [...ix.systems.keys()];
  else ids = [...access.keys()].sort((a, b) => a - b);
  if (!ids.length) return [];
  const few = ids.length <= BY_ID_LIMIT;
  const [byId, statuses] = await Promise.all([listedRows(store, ix, ids), readStatuses(store.db, few ? ids : undefined)]);
  // A system deleted since the index was read is left out.
  return ids.flatMap((id) => {
    const r = byId.get(id);
    if (!r) return [];
    return [
      {
        id,
        name: r.name,
        url: r.url,
        username: r.username ?? "",
        api_key: KEY_PLACEHOLDER,
        read_api_key: Number(r.has_read_api_key) ? KEY_PLACEHOLDER : null,
        verify_ssl: !!Number(r.verify_ssl),
        ca: r.ca === null ? null : Number(r.ca),
        groups: [...(ix.groupsOfSystem.get(id) ?? [])],
        access: access === null ? "READ_WRITE" : (access.get(id) ?? "NONE"),
        status: statuses.get(id) ?? unknownStatus(id),
        created_at: new Date(Number(r.created_at)),
        updated_at: new Date(Number(r.updated_at)),
      },
    ];
  });
}

type ListedRow = { id: number; name: string; url: string; username: string | null; has_read_api_key: number; verify_ssl: number; ca: number | null; created_at: number; updated_at: number };
const LISTED = sql`"id", "name", "url", "username", case when "read_api_key" is null then 0 else 1 end as "has_read_api_key", "verify_ssl", "ca", "created_at", "updated_at"`;
// The listed columns of the systems a caller sees (a fleet user: a few of many), one prepared statement.
const systemRows = prepare<[string]>()(1, (db) => sql<ListedRow>`select ${LISTED} from "fleet_systems" where "id" in ${idsOf(db, param(0))}`.compile(db));
const allSystemRows = (db: Tx) => sql<ListedRow>`select ${LISTED} from "fleet_systems"`.execute(db).then((r) => r.rows);

/**
 * The listed columns of `ids`: those read before at the index's version (a fleet user's systems),
 * the rest from the store (kept with the index only if the store is still at its version).
 */
async function listedRows(store: FleetStore, ix: FleetIndex, ids: number[]): Promise<Map<number, ListedRow>> {
  let kept = ix.memo.get("systems.listed") as Map<number, ListedRow> | undefined;
  const missing = kept ? ids.filter((id) => !kept!.has(id)) : ids;
  if (!missing.length) return kept!;
  const rows = missing.length <= BY_ID_LIMIT ? await systemRows.rows(store.db, JSON.stringify(missing)) : await allSystemRows(store.db);
  const out = new Map(kept);
  for (const r of rows) out.set(Number(r.id), r);
  if (isCurrent(store, ix)) {
    kept ??= new Map();
    for (const r of rows) kept.set(Number(r.id), r);
    ix.memo.set("systems.listed", kept);
  }
  return out;
}

export async function querySystems(ctx: SystemCallContext, filters: unknown, options: unknown): Promise<unknown> {
  return queryRows(await entries(fleetRuntime(ctx.app), ctx.session), filters, options);
}

/** One system as the caller sees it; a system it may not see does not exist for it. */
export async function systemEntry(ctx: SystemCallContext, id: number): Promise<FleetSystemEntry> {
  const [entry] = await entries(fleetRuntime(ctx.app), ctx.session, [id]);
  if (!entry) instanceNotFound("FleetSystem", id, "fleet.system_not_found");
  return entry;
}

/** Refuse names, URLs, CAs and groups that cannot be stored (field errors under `attr`). */
async function validate(db: Tx, attr: string, data: Partial<SystemCreate>, selfId: number | null): Promise<void> {
  const errors = new ValidationErrors();
  if (data.name !== undefined) {
    let q = db.selectFrom("fleet_systems").select("id").where("name", "=", data.name);
    if (selfId !== null) q = q.where("id", "!=", selfId);
    if (await q.executeTakeFirst()) errors.add(`${attr}.name`, "A system with this name already exists", "fleet.system_name_taken");
  }
  if (data.url !== undefined) {
    const p = urlProblem(data.url);
    if (p) errors.add(`${attr}.url`, p.message, p.code);
  }
  if (data.ca !== undefined && data.ca !== null && (await caPem(db, data.ca)) === null) {
    errors.add(`${attr}.ca`, `Certificate authority ${data.ca} does not exist`, "fleet.ca_not_found");
  }
  if (data.groups?.length) {
    const found = await db.selectFrom("fleet_system_groups").select("id").where("id", "in", data.groups).execute();
    const have = new Set(found.map((g) => g.id));
    for (const g of data.groups) if (!have.has(g)) errors.add(`${attr}.groups`, `System group ${g} does not exist`, "core.not_found");
  }
  errors.check();
}

/** Try to connect and log in with each key of `row`; the first failure as a field error. */
async function testConnection(rt: FleetRuntime, attr: string, row: SystemRow): Promise<FleetSystemStatus> {
  for (const which of row.read_api_key === null ? (["main"] as const) : (["main", "read"] as const)) {
    const ep = await endpointOf(rt.app, row, which);
    let conn: RemoteConnection | null = null;
    try {
      const t0 = performance.now();
      conn = await RemoteConnection.open(ep, { timeoutMs: CONNECT_TEST_TIMEOUT_MS });
      if (which === "main") {
        const status: FleetSystemStatus = { id: row.id, reachable: true, version: conn.version, latency_ms: Math.round(performance.now() - t0), error: null, error_code: null, checked_at: new Date() };
        if (row.read_api_key === null) return status;
      }
    } catch (err) {
      const f = err instanceof ConnectFailure ? err : new ConnectFailure("fleet.system_unreachable", String(err));
      const field = f.code === "fleet.system_key_refused" ? (which === "read" ? "read_api_key" : "api_key") : "url";
      validationError(`${attr}.${field}`, f.message, f.code);
    } finally {
      conn?.close();
    }
  }
  return { ...unknownStatus(row.id), reachable: true, checked_at: new Date() };
}

async function setGroups(trx: Tx, systemId: number, groups: number[]): Promise<void> {
  await trx.deleteFrom("fleet_system_group_members").where("system_id", "=", systemId).execute();
  if (groups.length)
    await trx
      .insertInto("fleet_system_group_members")
      .values([...new Set(groups)].map((g) => ({ system_group_id: g, system_id: systemId })))
      .execute();
}

function publish(rt: FleetRuntime, msg: "added" | "changed", entry: FleetSystemEntry): void {
  rt.app.events.publish("fleet.system.query", msg, entry.id, entry);
}

export async function createSystem(ctx: SystemCallContext, data: SystemCreate): Promise<FleetSystemEntry> {
  const rt = fleetRuntime(ctx.app);
  const db = rt.app.store.db;
  const attr = "fleet_system_create";
  await validate(db, attr, data, null);
  const sealed = {
    api_key: rt.app.secretBox.seal(API_KEY_PURPOSE, data.api_key),
    read_api_key: data.read_api_key === null ? null : rt.app.secretBox.seal(READ_API_KEY_PURPOSE, data.read_api_key),
  };
  const probeRow: SystemRow = { id: 0, name: data.name, url: data.url, username: data.username, verify_ssl: data.verify_ssl ? 1 : 0, ca: data.ca, ...sealed };
  const status = data.force ? null : await testConnection(rt, attr, probeRow);
  const now = Date.now();
  const id = await db.transaction().execute(async (trx) => {
    const r = await trx
      .insertInto("fleet_systems")
      .values({ name: data.name, url: data.url, username: data.username, verify_ssl: data.verify_ssl ? 1 : 0, ca: data.ca, ...sealed, created_at: now, updated_at: now })
      .returning("id")
      .executeTakeFirstOrThrow();
    await setGroups(trx, r.id, data.groups);
    await recordChange(trx, changeOf({ systems: [r.id], systemGroups: data.groups }));
    return r.id;
  });
  ctx.app.changed(changeOf({ systems: [id], systemGroups: data.groups }));
  if (status) await writeStatus(db, { ...status, id });
  ctx.auditSubject = data.name;
  const entry = await systemEntry({ ...ctx, session: null }, id);
  publish(rt, "added", entry);
  return withCallerAccess(ctx, entry);
}

export async function updateSystem(ctx: SystemCallContext, id: number, data: SystemUpdate): Promise<FleetSystemEntry> {
  const rt = fleetRuntime(ctx.app);
  const db = rt.app.store.db;
  const attr = "fleet_system_update";
  const old = await systemRow(db, id);
  if (!old) instanceNotFound("FleetSystem", id, "fleet.system_not_found");
  ctx.auditSubject = old.name;
  await validate(db, attr, data, id);
  const next: SystemRow = {
    ...old,
    name: data.name ?? old.name,
    url: data.url ?? old.url,
    username: data.username ?? old.username,
    verify_ssl: data.verify_ssl === undefined ? old.verify_ssl : data.verify_ssl ? 1 : 0,
    ca: data.ca === undefined ? old.ca : data.ca,
    api_key: data.api_key === undefined ? old.api_key : rt.app.secretBox.seal(API_KEY_PURPOSE, data.api_key),
    read_api_key: data.read_api_key === undefined ? old.read_api_key : data.read_api_key === null ? null : rt.app.secretBox.seal(READ_API_KEY_PURPOSE, data.read_api_key),
  };
  const connectionChanged = ["url", "username", "api_key", "read_api_key", "verify_ssl", "ca"].some((k) => (data as Record<string, unknown>)[k] !== undefined);
  const status = connectionChanged && !data.force ? await testConnection(rt, attr, next) : null;
  const change = changeOf({ systems: [id], systemGroups: data.groups ?? [] });
  await db.transaction().execute(async (trx) => {
    const { id: _id, ...cols } = next;
    await trx
      .updateTable("fleet_systems")
      .set({ ...cols, updated_at: Date.now() })
      .where("id", "=", id)
      .execute();
    if (data.groups !== undefined) await setGroups(trx, id, data.groups);
    await recordChange(trx, change);
  });
  ctx.app.changed(change);
  if (connectionChanged) rt.pool.closeSystem(id);
  if (status) await writeStatus(db, { ...status, id });
  ctx.auditSubject = next.name;
  const entry = await systemEntry({ ...ctx, session: null }, id);
  publish(rt, "changed", entry);
  return withCallerAccess(ctx, entry);
}

/** Delete a system with its grants (fleet_access rows targeting it), group memberships and status. */
export async function deleteSystem(ctx: SystemCallContext, id: number): Promise<true> {
  const rt = fleetRuntime(ctx.app);
  const row = await systemRow(rt.app.store.db, id);
  if (!row) instanceNotFound("FleetSystem", id, "fleet.system_not_found");
  ctx.auditSubject = row.name;
  await rt.app.store.db.transaction().execute(async (trx) => {
    await trx.deleteFrom("fleet_access").where("target_kind", "=", "SYSTEM").where("target_id", "=", id).execute();
    await trx.deleteFrom("fleet_system_group_members").where("system_id", "=", id).execute();
    await trx.deleteFrom("fleet_system_status").where("system_id", "=", id).execute();
    await trx.deleteFrom("fleet_systems").where("id", "=", id).execute();
    await recordChange(trx, changeOf({ systems: [id] }));
  });
  rt.pool.closeSystem(id);
  rt.poller.forget(id);
  rt.app.events.publish("fleet.system.query", "removed", id);
  // Grants went with it: a user whose last system this was may no longer sign in.
  ctx.app.changed(changeOf({ systems: [id] }));
  return true;
}

/** `entry` (built for everyone) with the caller's own access. */
async function withCallerAccess(ctx: SystemCallContext, entry: FleetSystemEntry): Promise<FleetSystemEntry> {
  if (!ctx.session) return entry;
  const d = await effectiveAccess(fleetRuntime(ctx.app).app.store.db, subjectOfSession(ctx.session), entry.id);
  return { ...entry, access: d.access };
}

/** Check a system now (over its pooled connection, ignoring the back-off) and record the result. */
export async function systemStatus(ctx: SystemCallContext, id: number): Promise<FleetSystemStatus> {
  const rt = fleetRuntime(ctx.app);
  await systemEntry(ctx, id); // visibility: a system the caller may not see does not exist
  const row = await systemRow(rt.app.store.db, id);
  if (!row) instanceNotFound("FleetSystem", id, "fleet.system_not_found");
  let status: FleetSystemStatus;
  try {
    status = await probeSystem(rt, row, true);
  } catch (err) {
    status = failedStatus(id, err);
  }
  await rt.poller.record(row, status);
  return status;
}
