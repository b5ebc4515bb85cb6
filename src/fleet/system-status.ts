// A system's status: reachable, version, latency and the last error, observed over the pooled
// connection (a ping), stored in fleet_system_status so every server process sharing the store
// reads the same, and announced as a `fleet.system.query` change when it changes.

import { sql } from "kysely";
import type { Tx } from "../store/db.js";
import type { FleetSystemStatusTable } from "../store/schema.js";
import { param, prepare } from "../auth/prepared.js";
import { idsOf } from "./access-index.js";
import type { FleetSystemStatus } from "./system-schemas.js";
import { ConnectFailure } from "./remote-connection.js";
import type { ProbeRuntime } from "./runtime-context.js";
import { endpointOf, type SystemRow } from "./system-endpoint.js";

export const PING_TIMEOUT_MS = 5_000;

export function unknownStatus(id: number): FleetSystemStatus {
  return { id, reachable: false, version: null, latency_ms: null, error: null, error_code: null, checked_at: null };
}

// The statuses of a list of systems, as one prepared statement taking the ids as one JSON array
// (a listing's hot path: building a fresh `in (...)` query per call cost more than running it).
const statusesOf = prepare<[string]>()(1, (db) => sql<FleetSystemStatusTable>`select * from "fleet_system_status" where "system_id" in ${idsOf(db, param(0))}`.compile(db));

/** Statuses by system id (every system when `ids` is omitted). */
export async function readStatuses(db: Tx, ids?: number[]): Promise<Map<number, FleetSystemStatus>> {
  const out = new Map<number, FleetSystemStatus>();
  if (ids && !ids.length) return out;
  const rows = ids ? await statusesOf.rows(db, JSON.stringify(ids)) : await db.selectFrom("fleet_system_status").selectAll().execute();
  for (const r of rows) {
    out.set(Number(r.system_id), {
      id: Number(r.system_id),
      reachable: !!r.reachable,
      version: r.version,
      latency_ms: r.latency_ms === null ? null : Number(r.latency_ms),
      error: r.error,
      error_code: r.error_code,
      checked_at: new Date(Number(r.checked_at)),
    });
  }
  return out;
}

/** Store `s` (insert or replace the system's row); a system deleted meanwhile is skipped. */
export async function writeStatus(db: Tx, s: FleetSystemStatus): Promise<void> {
  const row = {
    reachable: s.reachable ? 1 : 0,
    version: s.version,
    latency_ms: s.latency_ms,
    error: s.error,
    error_code: s.error_code,
    checked_at: (s.checked_at ?? new Date()).getTime(),
  };
  const updated = await db.updateTable("fleet_system_status").set(row).where("system_id", "=", s.id).executeTakeFirst();
  if (Number(updated.numUpdatedRows) > 0) return;
  const exists = await db.selectFrom("fleet_systems").select("id").where("id", "=", s.id).executeTakeFirst();
  if (!exists) return;
  await db
    .insertInto("fleet_system_status")
    .values({ system_id: s.id, ...row })
    .onConflict((oc) => oc.column("system_id").doUpdateSet(row))
    .execute()
    .catch(() => {
      // The system was deleted between the two statements: nothing to record.
    });
}

/** The status as a connection failure leaves it. */
export function failedStatus(id: number, err: unknown, version: string | null = null): FleetSystemStatus {
  const f = err instanceof ConnectFailure ? err : new ConnectFailure("fleet.system_unreachable", `unreachable: ${(err as Error)?.message ?? String(err)}`);
  return { id, reachable: false, version, latency_ms: null, error: f.message, error_code: f.code, checked_at: new Date() };
}

/**
 * Observe one system over its pooled connection: a ping's round trip. `fresh`: try now even while
 * the pool backs off (an explicit fleet.system.status call).
 */
export async function probeSystem(rt: ProbeRuntime, row: SystemRow, fresh: boolean): Promise<FleetSystemStatus> {
  try {
    const ep = await endpointOf(rt.app, row, "main");
    return await rt.pool.run(
      row.id,
      ep,
      async (conn) => {
        const t0 = performance.now();
        await conn.call("core.ping", [], PING_TIMEOUT_MS);
        return { id: row.id, reachable: true, version: conn.version, latency_ms: Math.round((performance.now() - t0) * 100) / 100, error: null, error_code: null, checked_at: new Date() };
      },
      fresh,
      // The poller's probes open connections a few at a time (the pool's background bound).
      !fresh,
    );
  } catch (err) {
    return failedStatus(row.id, err);
  }
}

/** Did anything a reader cares about change (not just the time and the latency's noise)? */
export function statusChanged(a: FleetSystemStatus | undefined, b: FleetSystemStatus): boolean {
  return !a || a.reachable !== b.reachable || a.version !== b.version || a.error_code !== b.error_code || a.error !== b.error;
}
