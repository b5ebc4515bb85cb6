// user.set_password: your own password (the old one required unless you signed in with a
// one-time password) or, as FULL_ADMIN, anyone's — checked against the password policy and
// history, the minimum age, and the account's state. The account's other sessions end (its
// password state changed); the caller's own survives. A notice is mailed to the verified address.

import { z } from "zod";
import { ValidationErrors, validationError } from "../server/errors.js";
import type { Config } from "../config.js";
import type { Store } from "../store/db.js";
import { changeOf, type ChangeEvent } from "../store/change-event.js";
import { commitChange } from "../store/changes.js";
import { bypassesPasswordAge, mayBypassOldPassword } from "../access/grant-check.js";
import { hashRounds } from "../accounts/account-settings.js";
import { hashPassword, ntHash, verifyPassword } from "./password-hash.js";
import { minAgeBlocks, nextHistory, passwordPolicyErrors, securityConfig } from "./policy.js";
import type { MailQueue } from "./email-codes.js";
import type { Session } from "./session.js";

const ARG = "user.set_password";

/** user.set_password's argument. */
export const setPasswordSchema = z.strictObject({ username: z.string(), old_password: z.string().nullable().default(null), new_password: z.string().min(1) });
export type SetPasswordInput = z.output<typeof setPasswordSchema>;

/** What changing a password needs: the store, the session service, the mail queue, the change feed. */
export interface SetPasswordContext {
  app: {
    readonly store: Store;
    readonly config: Pick<Config, "hashRounds">;
    readonly auth: { ownPasswordChange<T>(session: Session | null, userId: number, change: () => Promise<T>): Promise<T> };
    readonly mail: MailQueue;
    changed(ev: ChangeEvent): void;
  };
  session: Session | null;
}

export async function setPassword(ctx: SetPasswordContext, { username, old_password, new_password }: SetPasswordInput): Promise<null> {
  const s = ctx.session!;
  const db = ctx.app.store.db;
  const user = await db
    .selectFrom("users")
    .select(["id", "unixhash", "smb", "locked", "password_disabled", "password_history", "last_password_change", "source"])
    .where("username", "=", username)
    .executeTakeFirst();
  if (!user) validationError(`${ARG}.username`, `${username}: user does not exist.`, "user.not_found");
  if (user.source !== "LOCAL") validationError(`${ARG}.username`, `${username}: passwords of directory users are changed in the directory.`, "auth.directory_user_password");
  if (!mayBypassOldPassword(s)) {
    if (old_password === null) validationError(`${ARG}.old_password`, "FULL_ADMIN role is required in order to bypass check for current password.", "auth.old_password_required");
    if (!(await verifyPassword(old_password, user.unixhash))) validationError(`${ARG}.old_password`, `${username}: failed to validate password.`, "auth.old_password_wrong");
  }
  const history = JSON.parse(user.password_history) as string[];
  const errors = new ValidationErrors(await passwordPolicyErrors(db, `${ARG}.new_password`, new_password, user.unixhash ? [...history, user.unixhash] : history));
  errors.check();
  const sec = await securityConfig(db);
  if (!bypassesPasswordAge(s) && !s.attributes.includes("PASSWORD_CHANGE_REQUIRED") && minAgeBlocks(sec, user.last_password_change === null ? null : Number(user.last_password_change))) {
    validationError(`${ARG}.new_password`, `${username}: password changed too recently. Minimum password age is: ${sec.min_password_age}`, "password.changed_too_recently");
  }
  if (user.password_disabled) validationError(`${ARG}.username`, `${username}: password authentication is disabled for account.`, "auth.password_disabled");
  if (user.locked) validationError(`${ARG}.username`, `${username}: user account is locked.`, "auth.account_locked");
  const unixhash = await hashPassword(new_password, await hashRounds(ctx.app));
  // The account's other sessions end (their password state changed); the caller's own survives.
  const smbhash = user.smb ? await ntHash(new_password) : "*";
  await ctx.app.auth.ownPasswordChange(s, user.id, () =>
    commitChange(ctx.app, changeOf({ users: [user.id] }), (trx) =>
      trx
        .updateTable("users")
        .set({
          unixhash,
          smbhash,
          password_history: JSON.stringify(nextHistory(history, user.unixhash)),
          last_password_change: Date.now(),
        })
        .where("id", "=", user.id)
        .execute(),
    ),
  );
  if (username === s.username) s.attributes = s.attributes.filter((a) => a !== "PASSWORD_CHANGE_REQUIRED");
  // A notice to the account's verified address (OWASP: tell the user after a reset or change).
  await ctx.app.mail.enqueue(db, user.id, "PASSWORD_CHANGED");
  return null;
}
