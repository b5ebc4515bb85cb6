// Methods of the user area. Add each method file here. (user.set_password and the 2FA methods
// live with the auth area.)

import type { MethodDef } from "../method.js";
import { userQuery } from "./query.js";
import { userGetInstance } from "./get-instance.js";
import { userCreate } from "./create.js";
import { userUpdate } from "./update.js";
import { userDelete } from "./delete.js";
import { userGetNextUid } from "./get-next-uid.js";
import { userShellChoices } from "./shell-choices.js";
import { userGetUserObj } from "./get-user-obj.js";
import { userHasLocalAdministratorSetUp } from "./has-local-administrator-set-up.js";
import { userSetupLocalAdministrator } from "./setup-local-administrator.js";
import { userSuggestUsername } from "./suggest-username.js";
import { userVerifyEmail } from "./verify-email.js";
import { userSetTwofactorMethod } from "./set-twofactor-method.js";
import { userExport } from "./export.js";
import { userImport } from "./import.js";

export const userMethods: MethodDef[] = [
  userQuery,
  userGetInstance,
  userCreate,
  userUpdate,
  userDelete,
  userGetNextUid,
  userShellChoices,
  userGetUserObj,
  userHasLocalAdministratorSetUp,
  userSetupLocalAdministrator,
  userSuggestUsername,
  userExport,
  userImport,
  userVerifyEmail,
  userSetTwofactorMethod,
];
