// auth.login_ex mechanism SCRAM (reference truenas-scram-and-jobs.md §3.4–3.6): the two steps of an
// API-key login over SCRAM-SHA-512, glued to the same key lookup, lock-out, audit and session
// building as API_KEY_PLAIN (./login.ts). The protocol itself is ./scram.ts.
//
// Nothing about a key's existence shows before the proof: a key that does not exist, belongs to
// someone else, is revoked or expired, or has no SCRAM record yet, gets a mock server-first message
// (RFC 5802 §5.1) with a stable salt derived from a server secret, and the exchange then fails at
// the final step like a wrong key. The key's state is judged only after a valid proof, as PLAIN
// judges it after a matching key.

import { randomBytes } from "node:crypto";
import type { Connection } from "../server/connection.js";
import type { SecretBox } from "../store/secret-box.js";
import { CallError } from "../server/errors.js";
import { checkMechanism, finishLogin, readApiKeyLogin, refuse, type ApiKeyLoginRow, type LoginContext, type LoginResponse } from "./login.js";
import { clearSourceFailures, loginRefused, recordFailure } from "./limiter.js";
import { lockoutSettings, securityFromStored } from "./policy.js";
import { grantOfCheckRow } from "./revalidate.js";
import type { MeProfile } from "./me.js";
import { checkClientFinal, mockSalt, parseClientFirst, serverFirst, setScramPending, takeScramPending, type ScramRecord } from "./scram.js";

export interface ScramLoginContext extends LoginContext {
  readonly secretBox: SecretBox;
}

export interface ScramRequest {
  mechanism: "SCRAM";
  scram_type: "CLIENT_FIRST_MESSAGE" | "CLIENT_FINAL_MESSAGE";
  rfc_str: string;
}

export type ScramResponse = { response_type: "SCRAM_RESPONSE"; scram_type: "SERVER_FIRST_RESPONSE" | "SERVER_FINAL_RESPONSE"; rfc_str: string; user_info: unknown } | LoginResponse;

/** A pending exchange older than this is gone (the client answers in one round trip). */
const PENDING_MS = 60_000;
const MOCK_SECRET_SETTING = "scram.mock_secret";
const MOCK_SECRET_PURPOSE = "scram.mock_secret";

/** Per-store secret the mock salts derive from: the same in every process sharing the store. */
const mockSecrets = new WeakMap<object, Promise<Buffer>>();
function mockSecret(app: ScramLoginContext): Promise<Buffer> {
  let p = mockSecrets.get(app);
  if (!p) {
    p = (async () => {
      const db = app.store.db;
      const sealed = app.secretBox.seal(MOCK_SECRET_PURPOSE, randomBytes(32).toString("base64"));
      await db
        .insertInto("settings")
        .values({ key: MOCK_SECRET_SETTING, value: JSON.stringify(sealed) })
        .onConflict((oc) => oc.column("key").doNothing())
        .execute();
      const row = await db.selectFrom("settings").select("value").where("key", "=", MOCK_SECRET_SETTING).executeTakeFirstOrThrow();
      return Buffer.from(app.secretBox.open(MOCK_SECRET_PURPOSE, JSON.parse(String(row.value)) as string), "base64");
    })();
    p.catch(() => mockSecrets.delete(app));
    mockSecrets.set(app, p);
  }
  return p;
}

export function loginScram(app: ScramLoginContext, conn: Connection, req: ScramRequest): Promise<ScramResponse> {
  return req.scram_type === "CLIENT_FIRST_MESSAGE" ? scramFirst(app, conn, req.rfc_str) : scramFinal(app, conn, req.rfc_str);
}

/** The key's record when the key is `username`'s and has one (its state is judged after the proof). */
function recordOf(row: ApiKeyLoginRow, username: string): ScramRecord | null {
  if (row.key_id === null || row.key_username !== username || row.key_stored_key === null) return null;
  return { iterations: Number(row.key_iterations), salt: row.key_scram_salt!, stored_key: row.key_stored_key, server_key: row.key_server_key! };
}

async function scramFirst(app: ScramLoginContext, conn: Connection, text: string): Promise<ScramResponse> {
  takeScramPending(conn); // a new first message replaces a pending one
  const first = parseClientFirst(text);
  const row = await readApiKeyLogin(app, first?.keyId ?? 0);
  const sec = securityFromStored(row.security);
  checkMechanism(sec, "SCRAM");
  if (!first) return refuse(app, conn, "AUTH_ERR", "API_KEY", { username: "" }, "Malformed SCRAM client-first message");
  const data = { username: first.username };
  // A bound client on a connection without TLS: refused at once (reference §3.3).
  if (first.bound && !conn.secure) return refuse(app, conn, "AUTH_ERR", "API_KEY", data, "SCRAM channel binding requested over an insecure transport");
  if (await loginRefused(app, conn, first.username)) {
    return refuse(app, conn, "AUTH_ERR", "API_KEY", data, "Account is temporarily locked after too many failed login attempts.");
  }
  const record = recordOf(row, first.username);
  const salt = record ? record.salt : mockSalt(await mockSecret(app), first.username, first.keyId);
  const sf = serverFirst(first, salt, record ? record.iterations : app.config.scramIterations);
  setScramPending(conn, { first, nonce: sf.nonce, serverFirst: sf.text, record, context: row, at: Date.now() });
  return { response_type: "SCRAM_RESPONSE", scram_type: "SERVER_FIRST_RESPONSE", rfc_str: sf.text, user_info: null };
}

/** Why a key whose proof the exchange could not check was refused (audit only). */
function missingReason(row: ApiKeyLoginRow, username: string): string {
  if (row.key_id === null) return "Invalid API key";
  if (row.key_username !== username) return row.key_username ? "API key does not belong to this user" : "User does not exist";
  return "API key has no SCRAM record yet (made before SCRAM): reset it, or log in once with API_KEY_PLAIN";
}

async function scramFinal(app: ScramLoginContext, conn: Connection, text: string): Promise<ScramResponse> {
  const p = takeScramPending(conn);
  if (!p || Date.now() - p.at > PENDING_MS) throw new CallError("SCRAM authentication is not in progress", "auth.scram_not_in_progress");
  const username = p.first.username;
  // The key and its owner as they are now (a revoke or reset since the first step counts).
  const row = await readApiKeyLogin(app, p.first.keyId);
  const sec = securityFromStored(row.security);
  const key = row.key_id !== null ? { id: row.key_id, name: row.key_name } : null;
  const data = { username, api_key: key ?? "<INVALID>" };
  const check = checkClientFinal(p, text, conn.channelBinding);
  const stillSame = p.record !== null && recordOf(row, username)?.stored_key === p.record.stored_key;
  if (!check.ok || !stillSame) {
    await recordFailure(app, conn, lockoutSettings(sec), username, "API_KEY");
    const reason = !check.ok && check.reason !== "unknown API key" ? `SCRAM: ${check.reason}` : p.record ? "API key was reset" : missingReason(p.context as ApiKeyLoginRow, username);
    return refuse(app, conn, "AUTH_ERR", "API_KEY", data, reason);
  }
  // A valid proof: now the key's and the account's state, as API_KEY_PLAIN judges them.
  if (Number(row.locked)) return refuse(app, conn, "AUTH_ERR", "API_KEY", data, "Account is locked");
  if (row.key_revoked) return refuse(app, conn, "AUTH_ERR", "API_KEY", data, "Api key is revoked");
  if (row.key_expires_at !== null && Number(row.key_expires_at) <= Date.now()) return refuse(app, conn, "EXPIRED", "API_KEY", data, "Api key is expired");
  await clearSourceFailures(app, conn, username);
  const owner = row as unknown as MeProfile & { unixhash: string | null };
  const res = await finishLogin(
    app,
    conn,
    sec,
    owner,
    "API_KEY",
    { user_info: true },
    {
      attributes: ["API_KEY", "SCRAM"],
      credentialsData: { username: owner.username, api_key: key },
      apiKeyId: key!.id,
      keyRoles: row.key_roles === null ? null : (JSON.parse(row.key_roles) as string[]),
      grant: grantOfCheckRow(row),
    },
  );
  if (res.response_type !== "SUCCESS") return res;
  return { response_type: "SCRAM_RESPONSE", scram_type: "SERVER_FINAL_RESPONSE", rfc_str: check.serverFinal, user_info: res.user_info };
}
