import { z } from "zod";
import { defineMethod, arg } from "../method.js";
import { userDeleteOptions } from "../../accounts/inputs.js";
import { deleteUser } from "../../accounts/user-delete.js";

export const userDelete = defineMethod({
  name: "user.delete",
  description: "Deletes a local user (the home directory is kept, its .ssh removed); with delete_group (default) also its private primary group.",
  args: [arg("id", z.number().int()), arg("options", userDeleteOptions, () => ({}))],
  returns: z.number().int(),
  roles: ["ACCOUNT_WRITE"],
  targets: (id) => ({ users: [id] }),
  audit: (id, _options, { subject }) => `Delete user ${subject ?? id}`,
  handler: (ctx, id, options) => deleteUser(ctx, id, options),
});
