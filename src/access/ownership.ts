// The shape of an ownership rule, as a method declares it (src/api/method.ts) and the dispatcher
// checks it (./targets.ts). A leaf, so that access control needs no method definitions.

/**
 * Whose data a method acts on, beyond "the caller holds one of `roles`":
 * - `"any"`: no ownership rule (the roles decide alone).
 * - `"self"`: only the caller's own account (its `targets` must name the caller).
 * - `"self-or-role"`: the caller's own account without any role; another account needs one of
 *   `roles` (the method is then callable by every authenticated session).
 * - `"own-rows-or-role"`: rows that belong to accounts (sessions, keys): a caller holding one of
 *   `roles` reaches every account's rows; any other session only its own account's — the
 *   dispatcher hands the handler the caller's scope (`ctx.rowScope`). Reading them (every role a
 *   read role) is open to any session with its owner's rights, an unlimited API key's included;
 *   acting on them (ending one's sessions) is not open to a key session or a read-only one. A
 *   session limited to an API key's roles gets only what its roles allow.
 */
export type OwnerRule = "any" | "self" | "self-or-role" | "own-rows-or-role";

/** Whose rows a listing may show (own-rows-or-role): every account's, or one account's. */
export type RowScope = { all: true } | { all: false; userId: number };

/**
 * The accounts a call acts on, computed from its validated arguments. The dispatcher requires the
 * caller to hold every role each target holds (credentials, 2FA, keys, home, lock of an account
 * are as powerful as the account), so a lesser role cannot act on a greater account.
 */
export interface CallTargets {
  /** Local user ids. */
  users?: readonly number[];
  /** Usernames (resolved by the dispatcher; unknown names are left to the handler). */
  usernames?: readonly string[];
  /** API key ids (their owners are the targets). */
  apiKeys?: readonly number[];
}

/**
 * Roles that fields of an object argument need beyond the method's roles: a caller that sends any
 * of `fields` needs one of its roles; with `others`, a caller that sends any other field needs one
 * of those. E.g. user.update: the fleet fields need FLEET_WRITE, every other field ACCOUNT_WRITE.
 * Checked by the dispatcher (./targets.ts) before the handler runs.
 */
export interface FieldRoles {
  /** The argument's name (an object argument). */
  arg: string;
  fields: Readonly<Record<string, readonly string[]>>;
  others?: readonly string[];
}
