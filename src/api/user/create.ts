import { defineMethod, arg } from "../method.js";
import { userCreateSchema } from "../../accounts/inputs.js";
import { createUser } from "../../accounts/user-create.js";
import { USER_SECRET_FIELDS } from "../../accounts/context.js";
import { UserWithPasswordSchema } from "../../accounts/schemas.js";

export const userCreate = defineMethod({
  name: "user.create",
  description: "Creates a local user; returns the user entry plus `password` (the generated one for random_password).",
  args: [arg("user_create", userCreateSchema)],
  returns: UserWithPasswordSchema,
  roles: ["ACCOUNT_WRITE"],
  audit: (data) => `Create user ${data.username}`,
  secretFields: USER_SECRET_FIELDS,
  secretsRole: "ACCOUNT_WRITE",
  secretArgs: ["user_create.password"],
  handler: (ctx, data) => createUser(ctx, data),
});
