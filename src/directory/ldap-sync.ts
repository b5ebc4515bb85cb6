// ldap.sync(dry_run): re-apply the team mappings to every known directory user (local records with
// source LDAP) without waiting for their next login; with dry_run, only report what would change.
// It looks users up without their password, so it needs a server with a bind DN (indirect bind).

import { CallError } from "../server/errors.js";
import type { Job } from "../server/jobs.js";
import { trustedCas } from "./certificate-authorities.js";
import { ldapServers } from "./ldap-servers.js";
import { LdapUnavailableError, markDead } from "./ldap-connection.js";
import { lookupUser, type DirectoryIdentity } from "./ldap-auth.js";
import { ldapConfig, mappedTeams } from "./ldap-config.js";
import { applyTeamChanges, teamChanges, type DirectoryApp } from "./directory-users.js";

export interface SyncReport {
  dry_run: boolean;
  users: number;
  changes: { username: string; add: number[]; remove: number[]; error: string | null }[];
}

export async function syncDirectory(app: DirectoryApp, job: Pick<Job, "setProgress"> | undefined, dryRun: boolean): Promise<SyncReport> {
  const db = app.store.db;
  const servers = (await ldapServers(app)).filter((s) => s.bind_dn);
  if (!servers.length) {
    throw new CallError("ldap.sync needs an LDAP server with a bind DN: with direct bind, users can only be read with their own password (at login)", "ldap.bind_dn_required");
  }
  const trusted = await trustedCas(db);
  const config = await ldapConfig(db);
  const users = await db.selectFrom("users").select(["id", "username", "ldap_username"]).where("source", "=", "LDAP").orderBy("id").execute();
  const report: SyncReport = { dry_run: dryRun, users: users.length, changes: [] };
  for (const [i, u] of users.entries()) {
    job?.setProgress(Math.floor((i / Math.max(1, users.length)) * 100), `${dryRun ? "Previewing" : "Applying"} ${u.username}`);
    let identity: DirectoryIdentity | null = null;
    let outage: string | null = null;
    for (const server of servers) {
      try {
        identity = await lookupUser(server, trusted, u.ldap_username || u.username);
        outage = null;
        if (identity) break;
      } catch (err) {
        if (!(err instanceof LdapUnavailableError)) throw err;
        markDead(server.id);
        outage = `${server.hostname}: ${err.message}`;
      }
    }
    if (outage && !identity) {
      // Not found while a server was down: the user may live there; change nothing.
      report.changes.push({ username: u.username, add: [], remove: [], error: `The directory could not be reached (${outage})` });
      continue;
    }
    // Gone from the directory: its mapped memberships are removed (it cannot sign in any more either).
    const change = await teamChanges(db, u.id, identity ? mappedTeams(config, identity.groups) : []);
    if (!change.add.length && !change.remove.length) continue;
    if (!dryRun) await applyTeamChanges(app, u.id, change);
    report.changes.push({ username: u.username, ...change, error: identity ? null : "Not found in the directory" });
  }
  job?.setProgress(100, dryRun ? "Preview complete" : "Sync complete");
  return report;
}
