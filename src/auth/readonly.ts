// privilege.become_readonly: the session drops to the read-only administrator's rights for the
// rest of its life (recorded, so every process and a reconnect see it).

import type { Session } from "./session.js";
import { accessFor, type MethodTable } from "../access/authorize.js";

export interface ReadonlyContext {
  readonly registry: MethodTable;
  readonly auth: { stig(): Promise<boolean>; markReadonly(s: Session): Promise<void> };
}

export async function becomeReadonly(app: ReadonlyContext, s: Session): Promise<void> {
  const access = accessFor(app.registry, ["READONLY_ADMIN"], await app.auth.stig());
  Object.assign(s, {
    rawRoles: ["READONLY_ADMIN"],
    roles: access.roles,
    fullAdmin: access.fullAdmin,
    allowedMethods: access.allowedMethods,
    webuiAccess: access.webuiAccess,
    webShell: false,
    readonly: true,
    internal: false,
  });
  await app.auth.markReadonly(s);
}
