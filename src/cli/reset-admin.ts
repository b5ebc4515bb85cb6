// `gatehouse reset-admin`: break-glass on the host. Opens the store directly (needs file access to
// the data dir, or the PostgreSQL URL) and gives the local administrator a new password, unlocking
// the account and clearing its lock-out. No server needs to run, and no login is involved.

import type { Command } from "commander";
import { App } from "../app.js";
import { resolveConfig, type ConfigInput } from "../config.js";
import { hashPassword, ntHash, randomPassword } from "../auth/password-hash.js";
import { hashRounds } from "../accounts/account-settings.js";
import { clearLockout, nextHistory } from "../auth/policy.js";
import { writeAudit } from "../audit/audit.js";
import { changeOf } from "../store/change-event.js";
import { commitChange } from "../store/changes.js";

export interface ResetAdminResult {
  username: string;
  password: string;
  generated: boolean;
}

/** Set a new password for `username` (default: `admin`, else `root`) directly in the store. */
export async function resetAdmin(app: App, opts: { username?: string; password?: string }): Promise<ResetAdminResult> {
  const db = app.store.db;
  const candidates = opts.username ? [opts.username] : ["admin", "root"];
  const user = await db.selectFrom("users").select(["id", "username", "uid", "unixhash", "smb", "password_history"]).where("username", "in", candidates).orderBy("uid", "desc").executeTakeFirst();
  if (!user) throw new Error(`no such user: ${candidates.join(" or ")}`);
  const password = opts.password ?? randomPassword(20);
  const unixhash = await hashPassword(password, await hashRounds(app));
  await commitChange(app, changeOf({ users: [user.id] }), async (trx) => {
    await trx
      .updateTable("users")
      .set({
        unixhash,
        smbhash: user.smb ? await ntHash(password) : "*",
        password_disabled: 0,
        locked: 0,
        last_password_change: Date.now(),
        password_history: JSON.stringify(nextHistory(JSON.parse(user.password_history) as string[], user.unixhash)),
      })
      .where("id", "=", user.id)
      .execute();
    await clearLockout(trx, user.username);
  });
  await writeAudit(app, {
    event: "METHOD_CALL",
    eventData: {
      method: "reset-admin",
      params: [{ username: user.username, password: "********" }],
      description: `Reset administrator password ${user.username}`,
      authenticated: true,
      authorized: true,
    },
    success: true,
    conn: null,
    session: app.auth.internalSession(),
  });
  return { username: user.username, password, generated: opts.password === undefined };
}

export function registerResetAdmin(program: Command): void {
  program
    .command("reset-admin")
    .description("Break-glass, on the host: set a new password for the local administrator directly in the store")
    .option("--data-dir <dir>", "data directory (GATEHOUSE_DATA_DIR, default ./.data)")
    .option("--database <url>", "postgres://… when the server uses PostgreSQL (GATEHOUSE_DATABASE_URL)")
    .option("--host-root <dir>", "host root (GATEHOUSE_HOST_ROOT)")
    .option("--username <name>", "account to reset (default: admin, else root)")
    .option("--password <password>", "new password (default: a random one, printed); GATEHOUSE_NEW_PASSWORD")
    .action(async (opts: ConfigInput & { username?: string; password?: string }) => {
      const config = { ...resolveConfig({ ...opts, logLevel: "silent" }), logLevel: "silent" };
      const app = await App.create(config);
      try {
        const r = await resetAdmin(app, { username: opts.username, password: opts.password ?? process.env.GATEHOUSE_NEW_PASSWORD });
        await app.shutdown();
        process.stdout.write(r.generated ? `New password for ${r.username}: ${r.password}\n` : `Password of ${r.username} reset.\n`);
      } finally {
        await app.close();
      }
    });
}
