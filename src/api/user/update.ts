import { z } from "zod";
import { defineMethod, arg } from "../method.js";
import { userUpdateSchema } from "../../accounts/inputs.js";
import { updateUser } from "../../accounts/user-update.js";
import { USER_SECRET_FIELDS } from "../../accounts/context.js";
import { UserWithPasswordSchema } from "../../accounts/schemas.js";
import { USER_FLEET_FIELD_ROLES } from "../../fleet/access-schemas.js";

export const userUpdate = defineMethod({
  name: "user.update",
  description: "Updates a local user (partial); returns the user entry plus `password` (set only when one was sent or generated).",
  args: [arg("id", z.number().int()), arg("user_update", userUpdateSchema, () => ({}))],
  returns: UserWithPasswordSchema,
  roles: ["ACCOUNT_WRITE", "FLEET_WRITE"],
  // The fleet fields need FLEET_WRITE; every other field ACCOUNT_WRITE (FULL_ADMIN holds both).
  fieldRoles: { arg: "user_update", fields: USER_FLEET_FIELD_ROLES, others: ["ACCOUNT_WRITE"] },
  // Password, lock, keys, home, 2FA of an account: only one holding no role you lack.
  targets: (id) => ({ users: [id] }),
  audit: (id, _data, { subject }) => `Update user ${subject ?? id}`,
  secretFields: USER_SECRET_FIELDS,
  showOnce: ["password"],
  secretsRole: "ACCOUNT_WRITE",
  secretArgs: ["user_update.password"],
  // A password change of the caller's own account keeps the caller's session (its others end).
  handler: (ctx, id, data) => ctx.app.auth.ownPasswordChange(ctx.session, id, () => updateUser(ctx, id, data)),
});
