// Methods of the auth area (plus the user methods about credentials). Add each method file here.

import type { MethodDef } from "../method.js";
import { authLoginEx } from "./login-ex.js";
import { authLoginExContinue } from "./login-ex-continue.js";
import { authMechanismChoices } from "./mechanism-choices.js";
import { authLogin } from "./login.js";
import { authLoginWithApiKey } from "./login-with-api-key.js";
import { authLoginWithToken } from "./login-with-token.js";
import { authGenerateToken } from "./generate-token.js";
import { authMe } from "./me.js";
import { authSetAttribute } from "./set-attribute.js";
import { authLogout } from "./logout.js";
import { authSessions } from "./sessions.js";
import { authTerminateSession } from "./terminate-session.js";
import { authTerminateOtherSessions } from "./terminate-other-sessions.js";
import { authGenerateOnetimePassword } from "./generate-onetime-password.js";
import { authTwofactorConfig } from "./twofactor-config.js";
import { authTwofactorUpdate } from "./twofactor-update.js";
import { userSetPassword } from "./user-set-password.js";
import { userRenew2faSecret } from "./user-renew-2fa-secret.js";
import { userUnset2faSecret } from "./user-unset-2fa-secret.js";
import { userStage2faSecret } from "./user-stage-2fa-secret.js";
import { userConfirm2faSecret } from "./user-confirm-2fa-secret.js";
import { authPasswordPolicy } from "./password-policy.js";
import { authPasswordResetRequest } from "./password-reset-request.js";

export const authMethods: MethodDef[] = [
  authLoginEx,
  authLoginExContinue,
  authMechanismChoices,
  authLogin,
  authLoginWithApiKey,
  authLoginWithToken,
  authGenerateToken,
  authMe,
  authSetAttribute,
  authLogout,
  authSessions,
  authTerminateSession,
  authTerminateOtherSessions,
  authGenerateOnetimePassword,
  authTwofactorConfig,
  authTwofactorUpdate,
  userSetPassword,
  userRenew2faSecret,
  userUnset2faSecret,
  userStage2faSecret,
  userConfirm2faSecret,
  authPasswordPolicy,
  authPasswordResetRequest,
];
