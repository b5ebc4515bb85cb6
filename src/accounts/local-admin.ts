// First start (SPEC "Components and how they start"): while no member of the Local Administrator
// privilege can log in with a password, `user.has_local_administrator_set_up` is false and
// `user.setup_local_administrator(username, password)` — callable without login — sets one up:
// `root` gets the password, or `admin` is created as the reference's truenas_admin (uid 950,
// group admin 950, member of builtin_administrators, sudo ALL, immutable) and root's password is
// disabled.

import { mkdir } from "node:fs/promises";
import path from "node:path";
import { CallError, ValidationErrors } from "../server/errors.js";
import { hashPassword } from "../auth/password-hash.js";
import type { Tx } from "../store/db.js";
import type { AccountContext } from "./context.js";
import { hostPathOfHome, redactSecrets, skelDir, USER_SECRET_FIELDS } from "./context.js";
import { hashRounds } from "./account-settings.js";
import { defaultShell } from "./shells.js";
import { createHome, type HomeHandle } from "./home.js";
import { localAdministratorGids, membersOfGids } from "./admins.js";
import { ADMIN_UID, userEntryById } from "./user-entry.js";
import { BUILTIN_ADMINISTRATORS_GID } from "./group-entry.js";
import { checkPasswordText } from "./user-rules.js";
import { passwordPolicyErrors } from "../auth/policy.js";
import { recordAccountChange } from "./account-change.js";
import type { ChangeEvent } from "../store/change-event.js";

export const ADMIN_USERNAME = "admin";
export const ADMIN_HOME = "/home/admin";

/** True once a Local Administrator member has a usable password. */
export async function localAdministratorSetUp(db: Tx): Promise<boolean> {
  const members = await membersOfGids(db, await localAdministratorGids(db));
  if (!members.length) return false;
  const rows = await db
    .selectFrom("users")
    .select(["unixhash"])
    .where(
      "id",
      "in",
      members.map((m) => m.id),
    )
    .where("password_disabled", "=", 0)
    .where("locked", "=", 0)
    .execute();
  return rows.some((r) => !!r.unixhash && r.unixhash.startsWith("$"));
}

export async function setupLocalAdministrator(ctx: AccountContext, username: "root" | "admin", password: string): Promise<void> {
  const { app } = ctx;
  const db = app.store.db;
  if (await localAdministratorSetUp(db)) throw new CallError("Local administrator is already set up", "user.local_admin_exists");
  const v = new ValidationErrors();
  if (!password) v.add("password", "Password is required", "user.password_required");
  else checkPasswordText(v, "password", password);
  // The password policy (minimum length 8 by default) applies to the first administrator too.
  if (!v.size) v.errors.push(...(await passwordPolicyErrors(db, "password", password)));
  v.check();

  const unixhash = await hashPassword(password, await hashRounds(app));
  const now = Date.now();
  const created: HomeHandle[] = []; // renamed into place after the commit
  let changedIds: number[] = [];
  let change: ChangeEvent | undefined;
  try {
    changedIds = await db.transaction().execute(async (trx) => {
      // Another process may have won the race while we hashed.
      if (await localAdministratorSetUp(trx)) throw new CallError("Local administrator is already set up", "user.local_admin_exists");
      const root = await trx.selectFrom("users").select(["id"]).where("uid", "=", 0).where("builtin", "=", 1).executeTakeFirstOrThrow();
      if (username === "root") {
        await trx.updateTable("users").set({ unixhash, password_disabled: 0, locked: 0, last_password_change: now }).where("id", "=", root.id).execute();
        change = await recordAccountChange(trx, [root.id], []);
        return [root.id];
      }
      const admins = await trx.selectFrom("groups").select("id").where("gid", "=", BUILTIN_ADMINISTRATORS_GID).where("builtin", "=", 1).executeTakeFirstOrThrow();
      const uidOwner = await trx.selectFrom("users").select("username").where("uid", "=", ADMIN_UID).executeTakeFirst();
      if (uidOwner) throw new CallError(`Uid ${ADMIN_UID} is already used (user ${uidOwner.username} has it)`, "user.uid_taken");
      let group = await trx.selectFrom("groups").select(["id", "gid"]).where("name", "=", ADMIN_USERNAME).executeTakeFirst();
      if (!group) {
        group = await trx
          .insertInto("groups")
          .values({ gid: ADMIN_UID, name: ADMIN_USERNAME, builtin: 0, smb: 0, sudo_commands: "[]", sudo_commands_nopasswd: "[]", userns_idmap: null })
          .returning(["id", "gid"])
          .executeTakeFirstOrThrow();
      }
      const user = await trx
        .insertInto("users")
        .values({
          uid: ADMIN_UID,
          username: ADMIN_USERNAME,
          unixhash,
          smbhash: "*",
          home: ADMIN_HOME,
          shell: defaultShell(app.config.hostRoot),
          full_name: "Local Administrator",
          builtin: 0,
          smb: 0,
          microsoft_account: 0,
          userns_idmap: null,
          group_id: group.id,
          password_disabled: 0,
          ssh_password_enabled: 0,
          sshpubkey: null,
          locked: 0,
          sudo_commands: JSON.stringify(["ALL"]),
          sudo_commands_nopasswd: "[]",
          email: null,
          email_verified: 0,
          last_password_change: now,
          password_history: "[]",
          source: "LOCAL",
          home_mode: "700",
          twofactor_secret: null,
          twofactor_digits: 6,
          twofactor_interval: 30,
          twofactor_email: 0,
          created_at: now,
        })
        .returning("id")
        .executeTakeFirstOrThrow();
      await trx.insertInto("memberships").values({ group_id: admins.id, user_id: user.id }).execute();
      // Root's password is no longer needed (reference §3).
      await trx.updateTable("users").set({ unixhash: "*", smbhash: "*", password_disabled: 1 }).where("id", "=", root.id).execute();

      // The admin's home lives on the provisioned host (`<host root>/home/admin`).
      const home = hostPathOfHome(app, ADMIN_HOME);
      if (home) {
        await mkdir(path.posix.dirname(home), { recursive: true, mode: 0o755 });
        created.push(await createHome(home, { uid: ADMIN_UID, gid: group.gid, mode: "700", skelDir: skelDir(app), roots: app.config.storageRoots }));
      }
      change = await recordAccountChange(trx, [user.id, root.id], []);
      return [user.id, root.id];
    });
  } catch (err) {
    for (const h of created) await h.discard();
    throw err;
  }
  for (const h of created) if (!(await h.commit())) app.log.warn({ home: h.path }, "new home directory could not be renamed into place");
  for (const [i, id] of changedIds.entries()) {
    const entry = await userEntryById(db, id);
    if (entry) app.events.publish("user.query", username === "admin" && i === 0 ? "added" : "changed", id, redactSecrets(entry, USER_SECRET_FIELDS));
  }
  app.changed(change!);
}
