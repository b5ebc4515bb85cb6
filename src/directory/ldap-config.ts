// The LDAP options (ldap.config / ldap.update): allow user creation and join teams (seed 003),
// and the team mappings — directory group (full DN) → teams — re-applied at every login.

import { z } from "zod";
import type { Db, Tx } from "../store/db.js";
import { param, prepare } from "../auth/prepared.js";
import type { DirectoryContext } from "./ldap-servers.js";
import { getSetting, setSetting } from "../store/settings.js";
import { ValidationErrors } from "../server/errors.js";
import { normalizeDn } from "./ldap-escape.js";

const KEY = "ldap.config";

export interface LdapConfig {
  allow_user_creation: boolean;
  join_teams: number[];
  team_mappings: { group_dn: string; team_ids: number[] }[];
}

export const ldapUpdateSchema = z.strictObject({
  allow_user_creation: z.boolean().optional(),
  join_teams: z.array(z.number().int()).max(256).optional(),
  team_mappings: z
    .array(z.strictObject({ group_dn: z.string().min(3).max(1024), team_ids: z.array(z.number().int()).max(256) }))
    .max(1000)
    .optional(),
});
export type LdapUpdateInput = z.output<typeof ldapUpdateSchema>;

// Read at every directory login: statements built once (./../auth/prepared.ts).
const settingValue = prepare<[string]>()(1, (db) => db.selectFrom("settings").select("value").where("key", "=", param<string>(0)).compile());
const mappingRows = prepare<[]>()(0, (db) => db.selectFrom("ldap_team_mappings").select(["group_dn", "team_id"]).orderBy("group_dn").orderBy("team_id").compile());
const teamIds = prepare<[]>()(0, (db) => db.selectFrom("teams").select("id").compile());

type StoredConfig = { allow_user_creation: boolean; join_teams: number[] };

/** The stored options (as getSetting: defaults for fields a release added). */
function storedConfig(value: string | undefined): StoredConfig {
  const fallback: StoredConfig = { allow_user_creation: false, join_teams: [] };
  if (value === undefined) return fallback;
  const stored = JSON.parse(value) as StoredConfig;
  return stored && typeof stored === "object" ? { ...fallback, ...stored } : stored;
}

function configOf(stored: StoredConfig, rows: readonly { group_dn: string; team_id: number }[], teamRows: readonly { id: number }[]): LdapConfig {
  const byDn = new Map<string, number[]>();
  for (const r of rows) byDn.set(r.group_dn, [...(byDn.get(r.group_dn) ?? []), r.team_id]);
  // join_teams may name a team deleted since: shown and applied only while it exists.
  const teams = new Set(teamRows.map((t) => t.id));
  return {
    allow_user_creation: !!stored.allow_user_creation,
    join_teams: stored.join_teams.filter((t) => teams.has(t)),
    team_mappings: [...byDn].map(([group_dn, team_ids]) => ({ group_dn, team_ids })),
  };
}

export async function ldapConfig(db: Tx): Promise<LdapConfig> {
  const stored = storedConfig((await settingValue.rows(db, KEY))[0]?.value);
  const rows = await mappingRows.rows(db);
  return configOf(stored, rows, stored.join_teams.length ? await teamIds.rows(db) : []);
}

/** ldapConfig read at once on SQLite when the store's connection is free (Prepared.rowsNow); null: await ldapConfig. */
export function ldapConfigNow(store: Db): LdapConfig | null {
  const setting = settingValue.rowsNow(store, KEY);
  const rows = setting && mappingRows.rowsNow(store);
  if (!setting || !rows) return null;
  const stored = storedConfig(setting[0]?.value);
  const teams = stored.join_teams.length ? teamIds.rowsNow(store) : [];
  return teams && configOf(stored, rows, teams);
}

export async function updateLdapConfig(app: Pick<DirectoryContext, "store" | "events">, data: LdapUpdateInput): Promise<LdapConfig> {
  const db = app.store.db;
  const v = new ValidationErrors();
  const teams = new Set((await db.selectFrom("teams").select("id").execute()).map((t) => t.id));
  (data.join_teams ?? []).forEach((t, i) => {
    if (!teams.has(t)) v.add(`ldap_update.join_teams.${i}`, `Team ${t} does not exist`, "ldap.team_not_found");
  });
  (data.team_mappings ?? []).forEach((m, i) => {
    if (!/^[A-Za-z][A-Za-z0-9-]*\s*=\s*[^,\s]/.test(m.group_dn.trim()) || /[\u0000-\u001f]/.test(m.group_dn)) {
      v.add(`ldap_update.team_mappings.${i}.group_dn`, "Expected a group's full DN, such as cn=staff,ou=groups,dc=example,dc=com", "ldap.invalid_field");
    }
    m.team_ids.forEach((t, j) => {
      if (!teams.has(t)) v.add(`ldap_update.team_mappings.${i}.team_ids.${j}`, `Team ${t} does not exist`, "ldap.team_not_found");
    });
  });
  v.check();
  await db.transaction().execute(async (trx) => {
    const cur = await getSetting(trx, KEY, { allow_user_creation: false, join_teams: [] as number[] });
    await setSetting(trx, KEY, {
      allow_user_creation: data.allow_user_creation ?? cur.allow_user_creation,
      join_teams: data.join_teams ? [...new Set(data.join_teams)] : cur.join_teams,
    });
    if (data.team_mappings) {
      await trx.deleteFrom("ldap_team_mappings").execute();
      const pairs = new Map<string, { group_dn: string; team_id: number }>();
      for (const m of data.team_mappings) for (const t of m.team_ids) pairs.set(`${normalizeDn(m.group_dn)}\0${t}`, { group_dn: m.group_dn.trim(), team_id: t });
      if (pairs.size)
        await trx
          .insertInto("ldap_team_mappings")
          .values([...pairs.values()])
          .execute();
    }
  });
  const config = await ldapConfig(db);
  app.events.publish("ldap.config", "changed", 1, config);
  return config;
}

/** Teams the mappings give a member of `groupDns` (matched by full, normalised DN). */
export function mappedTeams(config: LdapConfig, groupDns: readonly string[]): number[] {
  const held = new Set(groupDns.map(normalizeDn));
  const out = new Set<number>();
  for (const m of config.team_mappings) if (held.has(normalizeDn(m.group_dn))) for (const t of m.team_ids) out.add(t);
  return [...out].sort((a, b) => a - b);
}
