// "Nobody grants what they do not hold", for fleet access (issue 11 point 1): a FLEET_WRITE caller
// who is not an administrator may make a change to grants, team members or group members only
// when its OWN effective access to every system whose access the change can alter is at least the
// access involved. A FLEET_WRITE non-admin holds nothing it was not granted, so it can only pass
// on (or take away) what it has itself. Checked inside the write's transaction, after the change,
// so a concurrent change cannot slip between the check and the commit.

import type { Tx } from "../store/db.js";
import { CallError } from "../server/errors.js";
import { accessBySystem, subjectOfSession, type FleetAccessLevel, type TargetKind } from "./effective-access.js";
import type { Session } from "../auth/session.js";

/** A grant a change makes, removes or alters (at its old and its new level: one touch each). */
export interface GrantTouch {
  target_kind: TargetKind;
  target_id: number;
  access: FleetAccessLevel;
  /** Only these systems of a group target are affected (group membership changes); default all. */
  systems?: readonly number[];
}

const rank = (a: FleetAccessLevel | "NONE") => (a === "READ_WRITE" ? 2 : a === "READ" ? 1 : 0);

/** The access each touched system needs the caller to hold. */
async function neededBySystem(db: Tx, touches: readonly GrantTouch[]): Promise<Map<number, FleetAccessLevel>> {
  const need = new Map<number, FleetAccessLevel>();
  const raise = (sys: number, a: FleetAccessLevel) => {
    if (rank(a) > rank(need.get(sys) ?? "NONE")) need.set(sys, a);
  };
  const groups = [...new Set(touches.filter((t) => t.target_kind === "SYSTEM_GROUP" && !t.systems).map((t) => t.target_id))];
  const members = new Map<number, number[]>();
  if (groups.length) {
    const rows = await db.selectFrom("fleet_system_group_members").select(["system_group_id", "system_id"]).where("system_group_id", "in", groups).execute();
    for (const r of rows) members.set(r.system_group_id, [...(members.get(r.system_group_id) ?? []), r.system_id]);
  }
  for (const t of touches) {
    const systems = t.target_kind === "SYSTEM" ? [t.target_id] : (t.systems ?? members.get(t.target_id) ?? []);
    for (const s of systems) raise(s, t.access);
  }
  return need;
}

/** Throws EPERM (fleet.access_not_held) unless the caller holds the access every touched system needs. */
export async function assertHoldsAccess(db: Tx, session: Session | null, touches: readonly GrantTouch[], attr: string): Promise<void> {
  if (!session || !touches.length) return;
  const subject = subjectOfSession(session);
  if (subject.admin) return;
  const need = await neededBySystem(db, touches);
  if (!need.size) return;
  const held = await accessBySystem(db, subject);
  const short = [...need].filter(([sys, a]) => rank(held.get(sys) ?? "NONE") < rank(a)).sort((x, y) => x[0] - y[0]);
  if (!short.length) return;
  const ids = short.map(([sys]) => sys);
  const names = new Map((await db.selectFrom("fleet_systems").select(["id", "name"]).where("id", "in", ids).execute()).map((r) => [r.id, r.name]));
  const what = short
    .slice(0, 5)
    .map(([sys, a]) => `${a} on ${names.get(sys) ?? `system ${sys}`}`)
    .join(", ");
  throw new CallError(
    `${attr}: this change would grant or take away ${what}${short.length > 5 ? ` and ${short.length - 5} more` : ""}, which you do not hold: nobody grants access they do not hold.`,
    "fleet.access_not_held",
  );
}
