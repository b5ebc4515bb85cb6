// Group entries (reference §2.1) for a page of rows, with batched member and role lookups.

import type { Selectable } from "kysely";
import type { Store, Tx } from "../store/db.js";
import type { ColumnMap } from "../store/query.js";
import { runEntityQuery } from "./entity-query.js";
import type { GroupTable } from "../store/schema.js";
import { serverSid } from "./account-settings.js";
import { accountSnapshot, storeSnapshot, jsonList, rolesForGids, type AccountSnapshot } from "./privileges.js";
import { parseIdmap } from "./user-entry.js";
import type { z } from "zod";
import { GroupEntrySchema } from "./schemas.js";

/** Builtin groups whose membership and settings stay editable (reference §1.3, §2.1). */
export const EDITABLE_BUILTIN_GIDS = new Set([14, 445, 544, 545, 568, 951, 952]);
export const BUILTIN_ADMINISTRATORS_GID = 544;
export const BUILTIN_USERS_GID = 545;
export const BUILTIN_GUESTS_GID = 546;

/** A group entry as built here: GroupEntrySchema's shape. */
export type GroupEntry = z.infer<typeof GroupEntrySchema>;

export type GroupRow = Selectable<GroupTable>;

export function groupSid(serverSidValue: string, row: { id: number; gid: number; smb: number | boolean }): string | null {
  if (!row.smb) return null;
  if (row.gid === BUILTIN_ADMINISTRATORS_GID) return `${serverSidValue}-512`;
  if (row.gid === BUILTIN_GUESTS_GID) return `${serverSidValue}-514`;
  return `${serverSidValue}-${200000 + row.id}`;
}

export async function buildGroupEntries(db: Tx, rows: GroupRow[], snapshot?: AccountSnapshot): Promise<GroupEntry[]> {
  if (!rows.length) return [];
  const ids = rows.map((r) => r.id);
  const [aux, primary, snap, sid] = await Promise.all([
    db.selectFrom("memberships").select(["group_id", "user_id"]).where("group_id", "in", ids).execute(),
    db.selectFrom("users").select(["id", "group_id"]).where("group_id", "in", ids).execute(),
    snapshot ?? accountSnapshot(db),
    serverSid(db),
  ]);
  const privileges = snap.privileges;
  const policy = snap.security;
  const members = new Map<number, Set<number>>();
  for (const m of [...aux, ...primary.map((u) => ({ group_id: u.group_id, user_id: u.id }))]) {
    let set = members.get(m.group_id);
    if (!set) members.set(m.group_id, (set = new Set()));
    set.add(m.user_id);
  }
  const stig = !!policy.enable_gpos_stig;
  return rows.map((r) => {
    const smb = !!r.smb && !stig;
    return {
      id: r.id,
      gid: r.gid,
      name: r.name,
      group: r.name,
      builtin: !!r.builtin,
      sudo_commands: jsonList(r.sudo_commands),
      sudo_commands_nopasswd: jsonList(r.sudo_commands_nopasswd),
      smb,
      userns_idmap: parseIdmap(r.userns_idmap),
      local: true,
      sid: groupSid(sid, { ...r, smb }),
      roles: rolesForGids(privileges, [r.gid]),
      users: [...(members.get(r.id) ?? [])].sort((a, b) => a - b),
      immutable: !!r.builtin && !EDITABLE_BUILTIN_GIDS.has(r.gid),
    };
  });
}

export async function groupEntryById(db: Tx, id: number): Promise<GroupEntry | undefined> {
  const rows = await db.selectFrom("groups").selectAll().where("id", "=", id).execute();
  return (await buildGroupEntries(db, rows))[0];
}

// ---- group.query: SQL push-down ------------------------------------------------------------

const G = (c: string) => `"groups"."${c}"`;
const IMMUTABLE_SQL = `(CASE WHEN ${G("builtin")} = 1 AND ${G("gid")} NOT IN (${[...EDITABLE_BUILTIN_GIDS].join(", ")}) THEN 1 ELSE 0 END)`;

export const GROUP_COLUMNS: ColumnMap = {
  id: { sql: G("id"), kind: "int", notNull: true },
  gid: { sql: G("gid"), kind: "int", notNull: true },
  name: { sql: G("name"), kind: "text", notNull: true },
  group: { sql: G("name"), kind: "text", notNull: true },
  builtin: { sql: G("builtin"), kind: "bool", notNull: true },
  smb: { sql: G("smb"), kind: "bool", notNull: true },
  immutable: { sql: IMMUTABLE_SQL, kind: "bool", notNull: true },
};
const GROUP_COLUMNS_STIG: ColumnMap = Object.fromEntries(Object.entries(GROUP_COLUMNS).filter(([k]) => k !== "smb"));

/** Top-level fields of a group entry (for the unknown-field check of filters): GroupEntrySchema's. */
export const GROUP_FIELDS: ReadonlySet<string> = new Set(Object.keys(GroupEntrySchema.shape));

/** `group.query(filters, options)`. */
export async function queryGroups(store: Store, filters: unknown, options: unknown): Promise<unknown> {
  const snapshot = await storeSnapshot(store);
  return runEntityQuery<GroupRow, GroupEntry>(
    store.db,
    store.dialect,
    {
      selectSql: `SELECT * FROM "groups"`,
      countSql: `SELECT count(*) AS "n" FROM "groups"`,
      defaultOrder: G("id"),
      columns: snapshot.security.enable_gpos_stig ? GROUP_COLUMNS_STIG : GROUP_COLUMNS,
      fields: GROUP_FIELDS,
      build: (rows) => buildGroupEntries(store.db, rows, snapshot),
    },
    { filters, options },
  );
}
