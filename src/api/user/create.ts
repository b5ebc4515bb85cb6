import { defineMethod, arg } from "../method.js";
import { userCreateSchema } from "../../accounts/inputs.js";
import { createUser } from "../../accounts/user-create.js";
import { USER_SECRET_FIELDS } from "../../accounts/context.js";
import { UserWithPasswordSchema } from "../../accounts/schemas.js";
import { USER_FLEET_FIELD_ROLES } from "../../fleet/access-schemas.js";

export const userCreate = defineMethod({
  name: "user.create",
  description: "Creates a local user; returns the user entry plus `password` (the generated one for random_password).",
  args: [arg("user_create", userCreateSchema)],
  returns: UserWithPasswordSchema,
  roles: ["ACCOUNT_WRITE"],
  // The fleet fields (teams, systems, system_groups) need FLEET_WRITE as well.
  fieldRoles: { arg: "user_create", fields: USER_FLEET_FIELD_ROLES },
  audit: (data, { subject }) => `Create user ${subject ?? data.username}`,
  secretFields: USER_SECRET_FIELDS,
  showOnce: ["password"],
  secretsRole: "ACCOUNT_WRITE",
  secretArgs: ["user_create.password"],
  handler: (ctx, data) => createUser(ctx, data),
});
