// auth.login_ex mechanisms (reference §7.2–7.3). Each returns a response object; failures that
// reveal nothing (AUTH_ERR) look the same for an unknown user and a wrong password.

import type { App } from "../app.js";
import type { Connection } from "../server/connection.js";
import { verifyPassword } from "./password-hash.js";
import { writeAudit } from "../audit/audit.js";

export type LoginResponse =
  | { response_type: "SUCCESS"; user_info: unknown; authenticator: "LEVEL_1" | "LEVEL_2"; reconnect_token: string | null }
  | { response_type: "OTP_REQUIRED"; username: string }
  | { response_type: "AUTH_ERR" | "EXPIRED" | "DENIED" };

export interface LoginRequest {
  mechanism: string;
  username?: string | null;
  password?: string;
  api_key?: string;
  token?: string;
  otp_token?: string;
  login_options?: { user_info?: boolean; reconnect_token?: boolean };
}

/** Slow down failed logins by a random 1–2 s (configurable for tests) in every mode. */
export async function failDelay(app: App): Promise<void> {
  const [lo, hi] = app.config.failDelay;
  await new Promise((r) => setTimeout(r, lo + Math.random() * Math.max(0, hi - lo)));
}

export async function loginPassword(app: App, conn: Connection, req: LoginRequest): Promise<LoginResponse> {
  const username = req.username ?? "";
  const user = await app.store.db
    .selectFrom("users")
    .select(["id", "username", "uid", "unixhash", "locked", "password_disabled"])
    .where("username", "=", username)
    .executeTakeFirst();
  const ok = user && !user.locked && !user.password_disabled ? await verifyPassword(req.password ?? "", user.unixhash) : false;
  if (!user || !ok) {
    await writeAudit(app, {
      event: "AUTHENTICATION",
      eventData: { credentials: { credentials: "LOGIN_PASSWORD", credentials_data: { username } }, error: user ? "Invalid username or password" : `${username}: user does not exist` },
      success: false,
      conn,
      session: null,
      username,
    });
    await failDelay(app);
    return { response_type: "AUTH_ERR" };
  }
  const session = await app.auth.sessionForUser(user, "LOGIN_PASSWORD", conn);
  if (!session.roles.size && !session.fullAdmin) {
    await writeAudit(app, {
      event: "AUTHENTICATION",
      eventData: { credentials: { credentials: "LOGIN_PASSWORD", credentials_data: { username } }, error: "User lacks API access." },
      success: false,
      conn,
      session: null,
      username,
    });
    return { response_type: "DENIED" };
  }
  await app.auth.attach(conn, session);
  await writeAudit(app, {
    event: "AUTHENTICATION",
    eventData: { credentials: { credentials: session.credentials, credentials_data: session.credentialsData }, error: null },
    success: true,
    conn,
    session,
  });
  return { response_type: "SUCCESS", user_info: null, authenticator: "LEVEL_1", reconnect_token: null };
}
