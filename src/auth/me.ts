// The auth.me object (reference §7.4), also sent as `user_info` of a successful login.

import type { App } from "../app.js";
import type { Session } from "./session.js";
import { CallError, ERRNO } from "../server/errors.js";
import { WireSet } from "../server/ejson.js";
import { provisioningUri } from "./totp.js";
import { passwordAging } from "./policy.js";

/** `account_attributes`: the stored session attributes plus the ones computed from the account. */
export function accountAttributes(session: Session, user: { uid: number; source: string }): string[] {
  const out = new Set<string>();
  if (user.source === "LDAP") {
    out.add("DIRECTORY_SERVICE");
    out.add("LDAP");
  } else out.add("LOCAL");
  if (user.uid === 0 || user.uid === 950) out.add("SYS_ADMIN");
  for (const a of session.attributes) out.add(a);
  return [...out];
}

export async function buildMe(app: App, session: Session): Promise<Record<string, unknown>> {
  if (session.userId === null) throw new CallError(`You are logged in using ${session.credentials}`, ERRNO.EINVAL);
  const db = app.store.db;
  const user = await db
    .selectFrom("users")
    .innerJoin("groups", "groups.id", "users.group_id")
    .select([
      "users.id",
      "users.username",
      "users.full_name",
      "users.home",
      "users.shell",
      "users.uid",
      "groups.gid",
      "users.source",
      "users.password_disabled",
      "users.last_password_change",
      "users.twofactor_secret",
      "users.twofactor_digits",
      "users.twofactor_interval",
    ])
    .where("users.id", "=", session.userId)
    .executeTakeFirst();
  if (!user) throw new CallError("User does not exist", ERRNO.ENOENT);
  const attrRow = await db.selectFrom("attributes").select("attributes").where("user_id", "=", user.id).executeTakeFirst();
  const accountAttrs = accountAttributes(session, user);
  const aging = passwordAging(await app.auth.security(), user);
  if (aging.changeRequired && !accountAttrs.includes("PASSWORD_CHANGE_REQUIRED")) accountAttrs.push("PASSWORD_CHANGE_REQUIRED");
  const allowlist = session.fullAdmin
    ? [{ method: "*", resource: "*" }]
    : [...session.allowedMethods].sort().map((m) => ({ method: "CALL", resource: m }));
  return {
    pw_name: user.username,
    pw_gecos: user.full_name,
    pw_dir: user.home,
    pw_shell: user.shell,
    pw_uid: user.uid,
    pw_gid: user.gid,
    grouplist: null,
    sid: null,
    source: user.source === "LDAP" ? "LDAP" : "LOCAL",
    local: user.source !== "LDAP",
    attributes: attrRow ? JSON.parse(attrRow.attributes) : {},
    two_factor_config: {
      provisioning_uri: user.twofactor_secret ? provisioningUri(user.username, user.twofactor_secret, user.twofactor_digits, user.twofactor_interval) : null,
      secret_configured: !!user.twofactor_secret,
      interval: user.twofactor_interval,
      otp_digits: user.twofactor_digits,
    },
    privilege: {
      roles: new WireSet([...session.roles].sort()),
      allowlist,
      web_shell: session.webShell,
      webui_access: session.webuiAccess,
    },
    account_attributes: accountAttrs,
  };
}
