// Schemas of fleet access: system groups, teams, the fleet fields of users, and the explanation of
// effective access (fleet.system_group.*, team.*, user.create/update, fleet.access.*).

import { z } from "zod";
import { entity } from "../server/wire-schema.js";
import { renderableText } from "../server/input-bounds.js";

export const accessLevel = z.enum(["READ", "READ_WRITE"]).describe("READ (read methods only) or READ_WRITE.");
const id = z.number().int().min(1);

/** A grant on one system, as written on a team or a user. */
export const systemGrantSchema = z.strictObject({ system: id.describe("The system's id."), access: accessLevel });
/** A grant on one system group. */
export const systemGroupGrantSchema = z.strictObject({ system_group: id.describe("The system group's id."), access: accessLevel });

const MAX_LIST = 10_000;
const ids = z.array(id).max(MAX_LIST);

export const SystemGroupEntrySchema = entity("FleetSystemGroup", "A named set of managed systems: a grant on it reaches each of them.", {
  id: z.number().int(),
  name: z.string(),
  systems: z.array(z.number().int()).describe("Ids of the systems in the group."),
});
export type SystemGroupEntry = z.infer<typeof SystemGroupEntrySchema>;

export const systemGroupCreateSchema = z.strictObject({
  name: renderableText(1, 120),
  systems: ids.optional(),
});
export const systemGroupUpdateSchema = systemGroupCreateSchema.partial();
export type SystemGroupCreate = z.output<typeof systemGroupCreateSchema>;
export type SystemGroupUpdate = z.output<typeof systemGroupUpdateSchema>;

export const TeamEntrySchema = entity("Team", "A set of users sharing access to systems and system groups.", {
  id: z.number().int(),
  name: z.string(),
  members: z.array(z.number().int()).describe("Ids of the member users."),
  systems: z.array(z.object({ system: z.number().int(), access: accessLevel })).describe("The team's grants on systems."),
  system_groups: z.array(z.object({ system_group: z.number().int(), access: accessLevel })).describe("The team's grants on system groups."),
});
export type TeamEntry = z.infer<typeof TeamEntrySchema>;

export const teamCreateSchema = z.strictObject({
  name: renderableText(1, 120),
  members: ids.optional(),
  systems: z.array(systemGrantSchema).max(MAX_LIST).optional(),
  system_groups: z.array(systemGroupGrantSchema).max(MAX_LIST).optional(),
});
export const teamUpdateSchema = teamCreateSchema.partial();
export type TeamCreate = z.output<typeof teamCreateSchema>;
export type TeamUpdate = z.output<typeof teamUpdateSchema>;

/** The fleet fields of user.create / user.update (seed 002/003: Teams, System Access, System Groups). */
export const userFleetFields = {
  teams: z.array(id).max(1000).optional(),
  systems: z.array(systemGrantSchema).max(MAX_LIST).optional(),
  system_groups: z.array(systemGroupGrantSchema).max(MAX_LIST).optional(),
};
export interface UserFleetInput {
  teams?: number[];
  systems?: { system: number; access: "READ" | "READ_WRITE" }[];
  system_groups?: { system_group: number; access: "READ" | "READ_WRITE" }[];
}
export const USER_FLEET_FIELDS = ["teams", "systems", "system_groups"] as const;
/** user.create / user.update fieldRoles: the fleet fields need FLEET_WRITE (FULL_ADMIN holds it). */
export const USER_FLEET_FIELD_ROLES = { teams: ["FLEET_WRITE"], systems: ["FLEET_WRITE"], system_groups: ["FLEET_WRITE"] } as const;

/** The fleet fields of a user entry (schema shape, added to UserEntrySchema). */
export const userFleetEntryFields = {
  teams: z.array(z.number().int()).describe("Gatehouse (fleet): ids of the teams the user is in."),
  systems: z.array(z.object({ system: z.number().int(), access: accessLevel })).describe("Gatehouse (fleet): the user's own grants on systems."),
  system_groups: z.array(z.object({ system_group: z.number().int(), access: accessLevel })).describe("Gatehouse (fleet): the user's own grants on system groups."),
};

const level = z.enum(["USER_SYSTEM", "USER_SYSTEM_GROUP", "TEAM_SYSTEM", "TEAM_SYSTEM_GROUP"]);

export const ExplainedEntrySchema = entity("FleetAccessEntry", "One grant that applies to a (user, system) pair.", {
  id: z.number().int().describe("The grant's id."),
  level: level.describe("Its precedence level (1 USER_SYSTEM … 4 TEAM_SYSTEM_GROUP)."),
  owner_kind: z.enum(["USER", "TEAM"]),
  owner_id: z.number().int(),
  owner_name: z.string().describe("The user's or team's name."),
  target_kind: z.enum(["SYSTEM", "SYSTEM_GROUP"]),
  target_id: z.number().int(),
  target_name: z.string().describe("The system's or system group's name."),
  access: accessLevel,
  text: z.string().describe("The grant in words."),
});

export const ExplanationSchema = entity("FleetAccessExplanation", "Why a user has the access it has to a system.", {
  user: z.object({ id: z.number().int(), username: z.string() }),
  system: z.object({ id: z.number().int(), name: z.string() }),
  access: z.enum(["NONE", "READ", "READ_WRITE"]).describe("The effective access."),
  administrator: z.boolean().describe("The user holds FULL_ADMIN: READ_WRITE on every system."),
  level: z.enum(["ADMIN", "USER_SYSTEM", "USER_SYSTEM_GROUP", "TEAM_SYSTEM", "TEAM_SYSTEM_GROUP"]).nullable().describe("The level that decided (null: no grant applies)."),
  decided_by: ExplainedEntrySchema.nullable().describe("The grant that decided (null for administrators and for NONE)."),
  shadowed: z.array(ExplainedEntrySchema).describe("Every other applicable grant, in precedence order, with why it did not decide."),
  text: z.string().describe("The explanation in words."),
});
export type Explanation = z.infer<typeof ExplanationSchema>;
export type ExplainedEntry = z.infer<typeof ExplainedEntrySchema>;
