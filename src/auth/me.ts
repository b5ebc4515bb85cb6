// The auth.me object (reference §7.4), also sent as `user_info` of a successful login.

import type { StoreContext } from "./context.js";
import type { Session } from "./session.js";
import { CallError } from "../server/errors.js";
import { WireSet } from "../server/ejson.js";
import { provisioningUri } from "./totp.js";
import { passwordAging, type SecurityConfig } from "./policy.js";
import { param, prepare } from "./prepared.js";

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

/**
 * What auth.me shows of the account: the user with their primary GID and UI attributes (JSON).
 * Written by hand, not derived from MeSchema: this is the store row auth.me is built from
 * (PROFILE_COLUMNS: 0/1 flags, JSON text, epoch ms), not the answer's shape.
 */
export interface MeProfile {
  id: number;
  username: string;
  full_name: string;
  home: string;
  shell: string;
  uid: number;
  /** null: the primary group is missing (auth.me then answers ENOENT). */
  gid: number | null;
  source: string;
  password_disabled: number;
  last_password_change: number | null;
  twofactor_secret: string | null;
  twofactor_digits: number;
  twofactor_interval: number;
  /** 1: the second factor is a code sent by e-mail (src/auth/email-codes.ts), not TOTP. */
  twofactor_email: number;
  /** The `attributes` row's JSON text, null when the user has none. */
  attributes: string | null;
}

/** Columns of a MeProfile, for a query of `users` left-joined with `groups` and `attributes`. */
export const PROFILE_COLUMNS = [
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
  "users.twofactor_email",
  "attributes.attributes",
] as const;

const profileOf = prepare<[number]>()(1, (db) =>
  db
    .selectFrom("users")
    .leftJoin("groups", "groups.id", "users.group_id")
    .leftJoin("attributes", "attributes.user_id", "users.id")
    .select(PROFILE_COLUMNS)
    .where("users.id", "=", param<number>(0))
    .compile(),
);

// A session's role and method sets are shared, never-changed values (accessFor memoises them per
// role set), so their sorted forms are computed once per set rather than on every login.
const sortedRoleLists = new WeakMap<ReadonlySet<string>, readonly string[]>();
const allowlists = new WeakMap<ReadonlySet<string>, readonly { method: string; resource: string }[]>();

function sortedRoles(roles: ReadonlySet<string>): readonly string[] {
  let list = sortedRoleLists.get(roles);
  if (!list) sortedRoleLists.set(roles, (list = Object.freeze([...roles].sort())));
  return list;
}

const FULL_ALLOWLIST = Object.freeze([Object.freeze({ method: "*", resource: "*" })]);

function allowlistOf(methods: ReadonlySet<string>): readonly { method: string; resource: string }[] {
  let list = allowlists.get(methods);
  if (!list) allowlists.set(methods, (list = Object.freeze([...methods].sort().map((m) => Object.freeze({ method: "CALL", resource: m })))));
  return list;
}

/**
 * The auth.me object of `session`. A login passes what it has already read: the security settings
 * and the account's profile (read in the login's own query), so they are not read twice.
 */
/** What building the `auth.me` answer needs of the application (src/app.ts App satisfies it). */
export interface MeContext extends StoreContext {
  readonly auth: { security(): Promise<SecurityConfig> };
}

export async function buildMe(app: MeContext, session: Session, known: { sec?: SecurityConfig; profile?: MeProfile } = {}): Promise<Record<string, unknown>> {
  if (session.userId === null) throw new CallError(`You are logged in using ${session.credentials}`, "auth.not_a_user_session");
  const user = known.profile?.id === session.userId ? known.profile : ((await profileOf.first(app.store.db, session.userId)) as MeProfile | undefined);
  if (!user || user.gid === null) throw new CallError("User does not exist", "user.not_found");
  const sec = known.sec ?? (await app.auth.security());
  const accountAttrs = accountAttributes(session, user);
  const aging = passwordAging(sec, user);
  if (aging.changeRequired && !accountAttrs.includes("PASSWORD_CHANGE_REQUIRED")) accountAttrs.push("PASSWORD_CHANGE_REQUIRED");
  // The shared frozen lists themselves, not copies: the answer is only encoded (toWire keeps the
  // wire form of a frozen list, so a login does not walk a hundred allowlist entries each time).
  const allowlist = session.fullAdmin ? FULL_ALLOWLIST : allowlistOf(session.allowedMethods);
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
    attributes: user.attributes !== null ? JSON.parse(user.attributes) : {},
    two_factor_config: {
      provisioning_uri: user.twofactor_secret ? provisioningUri(user.username, user.twofactor_secret, user.twofactor_digits, user.twofactor_interval) : null,
      secret_configured: !!user.twofactor_secret,
      interval: user.twofactor_interval,
      otp_digits: user.twofactor_digits,
    },
    privilege: {
      roles: new WireSet(sortedRoles(session.roles)),
      allowlist,
      web_shell: session.webShell,
      webui_access: session.webuiAccess,
    },
    account_attributes: accountAttrs,
  };
}
