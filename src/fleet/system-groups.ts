// System groups (fleet.system_group.*): {id, name, systems}. A grant on a group reaches every system
// in it, so changing a group's members changes the access of everyone holding a grant on it: the
// caller must hold, on each system added or removed, the highest access any grant on the group
// gives (./held-access.ts). Deleting a group removes its grants.

import type { Tx } from "../store/db.js";
import { ValidationErrors, instanceNotFound } from "../server/errors.js";
import { queryRows } from "../store/query-rows.js";
import type { FleetAccessContext } from "./context.js";
import type { SystemGroupCreate, SystemGroupEntry, SystemGroupUpdate } from "./access-schemas.js";
import { assertHoldsAccess, type GrantTouch } from "./held-access.js";
import type { FleetAccessLevel } from "./effective-access.js";
import { changeOf, type ChangeEvent } from "../store/change-event.js";
import { recordChange } from "../store/changes.js";

/** Every group (or the one with `id`), with its systems, ordered by id. */
export async function systemGroupEntries(db: Tx, id?: number): Promise<SystemGroupEntry[]> {
  let q = db.selectFrom("fleet_system_groups").select(["id", "name"]).orderBy("id");
  if (id !== undefined) q = q.where("id", "=", id);
  const groups = await q.execute();
  if (!groups.length) return [];
  let m = db.selectFrom("fleet_system_group_members").select(["system_group_id", "system_id"]).orderBy("system_id");
  if (id !== undefined) m = m.where("system_group_id", "=", id);
  const bySystem = new Map<number, number[]>();
  for (const r of await m.execute()) {
    const list = bySystem.get(r.system_group_id);
    if (list) list.push(r.system_id);
    else bySystem.set(r.system_group_id, [r.system_id]);
  }
  return groups.map((g) => ({ id: g.id, name: g.name, systems: bySystem.get(g.id) ?? [] }));
}

export async function querySystemGroups(ctx: FleetAccessContext, filters: unknown, options: unknown): Promise<unknown> {
  return queryRows(await systemGroupEntries(ctx.app.store.db), filters, options);
}

export async function getSystemGroup(ctx: FleetAccessContext, id: number): Promise<SystemGroupEntry> {
  const [entry] = await systemGroupEntries(ctx.app.store.db, id);
  if (!entry) instanceNotFound("System group", id, "fleet.system_group_not_found");
  return entry;
}

async function checkName(db: Tx, v: ValidationErrors, attr: string, name: string, selfId: number | null): Promise<void> {
  const taken = await db.selectFrom("fleet_system_groups").select("id").where("name", "=", name).executeTakeFirst();
  if (taken && taken.id !== selfId) v.add(attr, `A system group named "${name}" already exists.`, "fleet.system_group_name_taken");
}

/** Systems named by id must exist; each may be named once. */
export async function checkSystems(db: Tx, v: ValidationErrors, attr: string, systems: readonly number[]): Promise<void> {
  if (new Set(systems).size !== systems.length) v.add(attr, "A system is listed twice.", "fleet.duplicate_entry");
  const unique = [...new Set(systems)];
  if (!unique.length) return;
  const found = new Set((await db.selectFrom("fleet_systems").select("id").where("id", "in", unique).execute()).map((r) => r.id));
  const missing = unique.filter((s) => !found.has(s));
  if (missing.length) v.add(attr, `Following systems do not exist: ${missing.join(", ")}`, "fleet.system_not_found");
}

/** The grants on a group, each at its access: what a change of its members passes on. */
async function grantsOnGroup(db: Tx, groupId: number): Promise<FleetAccessLevel[]> {
  const rows = await db.selectFrom("fleet_access").select("access").where("target_kind", "=", "SYSTEM_GROUP").where("target_id", "=", groupId).execute();
  return rows.map((r) => (r.access === "READ_WRITE" ? "READ_WRITE" : "READ"));
}

function publish(ctx: FleetAccessContext, msg: "added" | "changed", entry: SystemGroupEntry): void {
  ctx.app.events.publish("fleet.system_group.query", msg, entry.id, entry);
}

export async function createSystemGroup(ctx: FleetAccessContext, input: SystemGroupCreate): Promise<SystemGroupEntry> {
  const db = ctx.app.store.db;
  const systems = input.systems ?? [];
  const v = new ValidationErrors();
  await checkName(db, v, "fleet_system_group_create.name", input.name, null);
  await checkSystems(db, v, "fleet_system_group_create.systems", systems);
  v.check();
  ctx.auditSubject = input.name;
  let change!: ChangeEvent;
  const id = await db.transaction().execute(async (trx) => {
    const row = await trx.insertInto("fleet_system_groups").values({ name: input.name }).returning("id").executeTakeFirstOrThrow();
    if (systems.length)
      await trx
        .insertInto("fleet_system_group_members")
        .values(systems.map((system_id) => ({ system_group_id: row.id, system_id })))
        .execute();
    change = changeOf({ systemGroups: [row.id], systems });
    await recordChange(trx, change);
    return row.id;
  });
  ctx.app.changed(change);
  const entry = await getSystemGroup(ctx, id);
  publish(ctx, "added", entry);
  return entry;
}

export async function updateSystemGroup(ctx: FleetAccessContext, id: number, input: SystemGroupUpdate): Promise<SystemGroupEntry> {
  const db = ctx.app.store.db;
  const current = await getSystemGroup(ctx, id);
  ctx.auditSubject = current.name;
  const v = new ValidationErrors();
  if (input.name !== undefined && input.name !== current.name) await checkName(db, v, "fleet_system_group_update.name", input.name, id);
  if (input.systems) await checkSystems(db, v, "fleet_system_group_update.systems", input.systems);
  v.check();
  let change = changeOf({ systemGroups: [id] });
  await db.transaction().execute(async (trx) => {
    if (input.name !== undefined && input.name !== current.name) await trx.updateTable("fleet_system_groups").set({ name: input.name }).where("id", "=", id).execute();
    if (!input.systems) return void (await recordChange(trx, change));
    const before = new Set((await trx.selectFrom("fleet_system_group_members").select("system_id").where("system_group_id", "=", id).execute()).map((r) => r.system_id));
    const after = new Set(input.systems);
    const added = [...after].filter((s) => !before.has(s));
    const removed = [...before].filter((s) => !after.has(s));
    if (removed.length) await trx.deleteFrom("fleet_system_group_members").where("system_group_id", "=", id).where("system_id", "in", removed).execute();
    if (added.length)
      await trx
        .insertInto("fleet_system_group_members")
        .values(added.map((system_id) => ({ system_group_id: id, system_id })))
        .execute();
    const changed = [...added, ...removed];
    const touches: GrantTouch[] = changed.length ? (await grantsOnGroup(trx, id)).map((access) => ({ target_kind: "SYSTEM_GROUP", target_id: id, access, systems: changed })) : [];
    await assertHoldsAccess(trx, ctx.session, touches, "fleet_system_group_update.systems");
    if (changed.length) ctx.auditSubject = `${current.name} (systems +[${added.join(", ")}] -[${removed.join(", ")}])`;
    change = changeOf({ systemGroups: [id], systems: changed });
    await recordChange(trx, change);
  });
  ctx.app.changed(change);
  const entry = await getSystemGroup(ctx, id);
  publish(ctx, "changed", entry);
  return entry;
}

/** Deletes a group with its grants (users' and teams') and memberships. */
export async function deleteSystemGroup(ctx: FleetAccessContext, id: number): Promise<true> {
  const db = ctx.app.store.db;
  const current = await getSystemGroup(ctx, id);
  ctx.auditSubject = current.name;
  const change = changeOf({ systemGroups: [id], systems: current.systems });
  await db.transaction().execute(async (trx) => {
    const touches: GrantTouch[] = (await grantsOnGroup(trx, id)).map((access) => ({ target_kind: "SYSTEM_GROUP", target_id: id, access }));
    await assertHoldsAccess(trx, ctx.session, touches, "fleet.system_group.delete");
    const gone = await trx.deleteFrom("fleet_access").where("target_kind", "=", "SYSTEM_GROUP").where("target_id", "=", id).executeTakeFirst();
    await trx.deleteFrom("fleet_system_group_members").where("system_group_id", "=", id).execute();
    await trx.deleteFrom("fleet_system_groups").where("id", "=", id).execute();
    const n = Number(gone.numDeletedRows);
    if (n) ctx.auditSubject = `${current.name} (and its ${n} grant${n === 1 ? "" : "s"})`;
    await recordChange(trx, change);
  });
  ctx.app.changed(change);
  ctx.app.events.publish("fleet.system_group.query", "removed", id);
  return true;
}
