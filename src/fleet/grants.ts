// Reading and replacing the grants (fleet_access rows) of one owner — a user or a team — as the
// `systems` / `system_groups` lists their entries carry. A replacement returns what it changed, as
// touches for the held-access check (./held-access.ts) and as words for the audit label.

import type { Tx } from "../store/db.js";
import type { ValidationErrors } from "../server/errors.js";
import type { FleetAccessLevel, OwnerKind, TargetKind } from "./effective-access.js";
import type { GrantTouch } from "./held-access.js";
import { checkSystems } from "./system-groups.js";

export interface OwnerGrants {
  systems: { system: number; access: FleetAccessLevel }[];
  system_groups: { system_group: number; access: FleetAccessLevel }[];
}

const level = (a: string): FleetAccessLevel => (a === "READ_WRITE" ? "READ_WRITE" : "READ");

/** The grants of many owners of one kind, by owner id (each list ordered by target id). */
export async function grantsOfOwners(db: Tx, kind: OwnerKind, ownerIds: readonly number[] | null): Promise<Map<number, OwnerGrants>> {
  let q = db.selectFrom("fleet_access").select(["owner_id", "target_kind", "target_id", "access"]).where("owner_kind", "=", kind).orderBy("target_id");
  if (ownerIds) {
    if (!ownerIds.length) return new Map();
    q = q.where("owner_id", "in", [...ownerIds]);
  }
  const out = new Map<number, OwnerGrants>();
  for (const r of await q.execute()) {
    let g = out.get(r.owner_id);
    if (!g) out.set(r.owner_id, (g = { systems: [], system_groups: [] }));
    if (r.target_kind === "SYSTEM") g.systems.push({ system: r.target_id, access: level(r.access) });
    else g.system_groups.push({ system_group: r.target_id, access: level(r.access) });
  }
  return out;
}

/** System groups named by id must exist; each may be named once. */
export async function checkSystemGroups(db: Tx, v: ValidationErrors, attr: string, groups: readonly number[]): Promise<void> {
  if (new Set(groups).size !== groups.length) v.add(attr, "A system group is listed twice.", "fleet.duplicate_entry");
  const unique = [...new Set(groups)];
  if (!unique.length) return;
  const found = new Set((await db.selectFrom("fleet_system_groups").select("id").where("id", "in", unique).execute()).map((r) => r.id));
  const missing = unique.filter((g) => !found.has(g));
  if (missing.length) v.add(attr, `Following system groups do not exist: ${missing.join(", ")}`, "fleet.system_group_not_found");
}

/** Validate `systems` / `system_groups` lists (existence, no duplicates) into `v`. */
export async function checkGrantLists(db: Tx, v: ValidationErrors, schema: string, input: Partial<OwnerGrants>): Promise<void> {
  if (input.systems)
    await checkSystems(
      db,
      v,
      `${schema}.systems`,
      input.systems.map((s) => s.system),
    );
  if (input.system_groups)
    await checkSystemGroups(
      db,
      v,
      `${schema}.system_groups`,
      input.system_groups.map((g) => g.system_group),
    );
}

export interface GrantChange {
  touches: GrantTouch[];
  /** The change in words ("+SYSTEM 3 READ", "-SYSTEM_GROUP 2", "SYSTEM 4 READ→READ_WRITE"). */
  words: string[];
}

async function replaceKind(trx: Tx, kind: OwnerKind, ownerId: number, targetKind: TargetKind, wanted: Map<number, FleetAccessLevel>, out: GrantChange): Promise<void> {
  const rows = await trx
    .selectFrom("fleet_access")
    .select(["id", "target_id", "access"])
    .where("owner_kind", "=", kind)
    .where("owner_id", "=", ownerId)
    .where("target_kind", "=", targetKind)
    .execute();
  const have = new Map(rows.map((r) => [r.target_id, { id: r.id, access: level(r.access) }]));
  const touch = (target_id: number, access: FleetAccessLevel) => out.touches.push({ target_kind: targetKind, target_id, access });
  for (const [target, cur] of have) {
    const next = wanted.get(target);
    if (next === undefined) {
      await trx.deleteFrom("fleet_access").where("id", "=", cur.id).execute();
      touch(target, cur.access);
      out.words.push(`-${targetKind} ${target}`);
    } else if (next !== cur.access) {
      await trx.updateTable("fleet_access").set({ access: next }).where("id", "=", cur.id).execute();
      touch(target, cur.access);
      touch(target, next);
      out.words.push(`${targetKind} ${target} ${cur.access}→${next}`);
    }
  }
  const added = [...wanted].filter(([t]) => !have.has(t));
  if (added.length) {
    await trx
      .insertInto("fleet_access")
      .values(added.map(([target_id, access]) => ({ owner_kind: kind, owner_id: ownerId, target_kind: targetKind, target_id, access })))
      .execute();
    for (const [t, a] of added) {
      touch(t, a);
      out.words.push(`+${targetKind} ${t} ${a}`);
    }
  }
}

/** Replace the lists that are given (an absent list is left as it is); returns what changed. */
export async function replaceGrants(trx: Tx, kind: OwnerKind, ownerId: number, input: Partial<OwnerGrants>): Promise<GrantChange> {
  const out: GrantChange = { touches: [], words: [] };
  if (input.systems) await replaceKind(trx, kind, ownerId, "SYSTEM", new Map(input.systems.map((s) => [s.system, s.access])), out);
  if (input.system_groups) await replaceKind(trx, kind, ownerId, "SYSTEM_GROUP", new Map(input.system_groups.map((g) => [g.system_group, g.access])), out);
  return out;
}

/** Every grant of an owner, as touches (a membership change passes all of them on or takes them away). */
export async function allGrantTouches(db: Tx, kind: OwnerKind, ownerIds: readonly number[]): Promise<GrantTouch[]> {
  if (!ownerIds.length) return [];
  const rows = await db
    .selectFrom("fleet_access")
    .select(["target_kind", "target_id", "access"])
    .where("owner_kind", "=", kind)
    .where("owner_id", "in", [...ownerIds])
    .execute();
  return rows.map((r) => ({ target_kind: r.target_kind as TargetKind, target_id: r.target_id, access: level(r.access) }));
}
