// Every method the server publishes, by name. Areas keep their own lists (./<area>/index.ts).

import type { MethodDef } from "./method.js";
import { coreMethods } from "./core/index.js";
import { userMethods } from "./user/index.js";
import { groupMethods } from "./group/index.js";
import { authMethods } from "./auth/index.js";
import { privilegeMethods } from "./privilege/index.js";
import { apiKeyMethods } from "./api-key/index.js";
import { systemMethods } from "./system/index.js";
import { auditMethods } from "./audit/index.js";
import { fleetMethods } from "./fleet/index.js";
import { teamMethods } from "./team/index.js";
import { ldapMethods } from "./ldap/index.js";
import { certificateAuthorityMethods } from "./certificateauthority/index.js";
import { mailMethods } from "./mail/index.js";
import { filesystemMethods } from "./filesystem/index.js";

export class Registry {
  private readonly byName = new Map<string, MethodDef>();

  constructor(defs: MethodDef[]) {
    for (const def of defs) {
      if (this.byName.has(def.name)) throw new Error(`method ${def.name} registered twice`);
      // A *_READ role may never open a write method (reference §5.3).
      if (/\.(create|update|delete)$/.test(def.name) && def.roles.some((r) => r.endsWith("_READ"))) {
        throw new Error(`method ${def.name} declares a READ role`);
      }
      this.byName.set(def.name, def);
    }
  }

  get(name: string): MethodDef | undefined {
    return this.byName.get(name);
  }

  all(): MethodDef[] {
    return [...this.byName.values()];
  }
}

export function buildRegistry(): Registry {
  return new Registry([
    ...coreMethods,
    ...userMethods,
    ...groupMethods,
    ...authMethods,
    ...privilegeMethods,
    ...apiKeyMethods,
    ...systemMethods,
    ...auditMethods,
    ...fleetMethods,
    ...teamMethods,
    ...ldapMethods,
    ...certificateAuthorityMethods,
    ...mailMethods,
    ...filesystemMethods,
  ]);
}
