// Methods of the ldap area (src/directory/).

import type { MethodDef } from "../method.js";
import { ldapServerQuery } from "./server-query.js";
import { ldapServerGetInstance } from "./server-get-instance.js";
import { ldapServerCreate } from "./server-create.js";
import { ldapServerUpdate } from "./server-update.js";
import { ldapServerDelete } from "./server-delete.js";
import { ldapServerTest } from "./server-test.js";
import { ldapServerTestLogin } from "./server-test-login.js";
import { ldapConfigMethod } from "./config.js";
import { ldapUpdate } from "./update.js";
import { ldapSync } from "./sync.js";

export const ldapMethods: MethodDef[] = [
  ldapServerQuery,
  ldapServerGetInstance,
  ldapServerCreate,
  ldapServerUpdate,
  ldapServerDelete,
  ldapServerTest,
  ldapServerTestLogin,
  ldapConfigMethod,
  ldapUpdate,
  ldapSync,
];
