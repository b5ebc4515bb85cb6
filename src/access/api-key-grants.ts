// API-key roles (SPEC "API keys"): a key may be limited to some of its owner's roles, and nobody
// gives a key a role they do not hold — an unlimited key carries all of its owner's roles, so
// the caller must hold those. (Who may manage whose keys is the methods' `owner`/`targets` data.)

import type { ValidationErrors } from "../server/errors.js";
import { isRoleName } from "./roles.js";
import { missingRoles, type Caller } from "./grant-check.js";

/** Add the errors of a key's `roles` (null: all of the owner's) for this caller and owner. */
export function checkKeyRoles(errors: ValidationErrors, schema: string, caller: Caller | null, roles: readonly string[] | null, ownerRoles: ReadonlySet<string>): void {
  if (roles) {
    roles.forEach((r, i) => {
      const attr = `${schema}.roles.${i}`;
      if (!isRoleName(r)) errors.add(attr, "Invalid role", "access.invalid_role");
      else if (missingRoles(caller, [r]).length) errors.add(attr, `${r}: you cannot grant a role you do not hold.`, "access.role_not_held");
      else if (!ownerRoles.has(r)) errors.add(attr, `${r}: role is not held by the key's owner.`, "api_key.role_not_held_by_owner");
    });
  } else if (ownerRoles.size && missingRoles(caller, ownerRoles).length) {
    errors.add(`${schema}.roles`, "The key's owner holds roles you do not hold: limit the key to roles you hold.", "access.role_not_held");
  }
}
