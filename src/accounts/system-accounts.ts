// System accounts taken into the store as built-ins: those a package's maintainer script added
// to the host's passwd / group while Gatehouse ran (drift: src/provision/drift.ts finds them, the
// provisioner's hook writes them here), and those `gatehouse adopt` finds that the store lacks.
// Kept apart from ./adopt.ts so provisioning does not depend on the import rules.

import type { Db, Tx } from "../store/db.js";
import type { SystemAccounts } from "../provision/drift.js";

/** The columns of a built-in user row that do not come from passwd. */
export function builtinUserBase(now: number) {
  return {
    unixhash: "*",
    smbhash: "*",
    builtin: 1,
    smb: 0,
    microsoft_account: 0,
    password_disabled: 0,
    ssh_password_enabled: 0,
    sshpubkey: null,
    locked: 0,
    sudo_commands: "[]",
    sudo_commands_nopasswd: "[]",
    email: null,
    email_verified: 0,
    last_password_change: null,
    password_history: "[]",
    source: "LOCAL",
    home_mode: null,
    twofactor_secret: null,
    twofactor_digits: 6,
    twofactor_interval: 30,
    twofactor_email: 0,
    userns_idmap: null,
    created_at: now,
  };
}

/**
 * Insert system groups, then system users, as built-ins, in one transaction. A name or id taken
 * meanwhile is skipped (the unique indexes decide). Returns what was inserted.
 */
export async function insertSystemAccounts(db: Db, found: SystemAccounts): Promise<SystemAccounts> {
  return db.transaction().execute(async (trx) => insertSystemAccountsIn(trx, found));
}

export async function insertSystemAccountsIn(trx: Tx, found: SystemAccounts): Promise<SystemAccounts> {
  const done: SystemAccounts = { users: [], groups: [] };
  for (const g of found.groups) {
    const row = await trx
      .insertInto("groups")
      .values({ gid: g.gid, name: g.name, builtin: 1, smb: 0, sudo_commands: "[]", sudo_commands_nopasswd: "[]", userns_idmap: null })
      .onConflict((oc) => oc.doNothing())
      .returning("id")
      .executeTakeFirst();
    if (row) done.groups.push(g);
  }
  const now = Date.now();
  for (const u of found.users) {
    const group = await trx.selectFrom("groups").select("id").where("gid", "=", u.gid).executeTakeFirst();
    if (!group) continue;
    const row = await trx
      .insertInto("users")
      .values({ ...builtinUserBase(now), uid: u.uid, username: u.name, home: u.home, shell: u.shell, full_name: u.gecos.split(",")[0] || u.name, group_id: group.id })
      .onConflict((oc) => oc.doNothing())
      .returning("id")
      .executeTakeFirst();
    if (row) done.users.push(u);
  }
  return done;
}
