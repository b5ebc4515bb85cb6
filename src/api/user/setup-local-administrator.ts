import { z } from "zod";
import { arg, defineMethod } from "../method.js";
import { setupLocalAdministrator } from "../../accounts/local-admin.js";

export const userSetupLocalAdministrator = defineMethod({
  name: "user.setup_local_administrator",
  description: "First start only: gives `root` a password, or creates `admin` (uid 950, sudo ALL, builtin_administrators) and disables root's password.",
  args: [
    arg("username", z.enum(["root", "admin"])),
    arg("password", z.string()),
    arg("options", z.strictObject({ ec2: z.strictObject({ instance_id: z.string() }).nullable().optional() }), () => ({})),
  ],
  returns: z.null(),
  authenticationRequired: false,
  audit: (username) => `Set up local administrator ${username}`,
  secretArgs: ["password"],
  handler: async (ctx, username, password) => {
    await setupLocalAdministrator(ctx, username, password);
    return null;
  },
});
