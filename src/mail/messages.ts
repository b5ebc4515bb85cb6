// The mails Gatehouse sends on its own: each carries the product name and no secret but its code.

import { PRODUCT_NAME, type OutgoingMail } from "./transport.js";

/** What a queued mail is (mail_queue.kind). */
export const MAIL_KINDS = ["VERIFY_EMAIL", "LOGIN_CODE", "PASSWORD_RESET", "PASSWORD_CHANGED"] as const;
export type MailKind = (typeof MAIL_KINDS)[number];

/** How long a queued mail is still worth sending (after that it fails for good, audited). */
export const MAIL_MAX_AGE_MS: Record<MailKind, number> = {
  // A pending login waits 5 minutes for its second factor; a code mailed later helps nobody.
  LOGIN_CODE: 10 * 60_000,
  PASSWORD_RESET: 60 * 60_000,
  VERIFY_EMAIL: 24 * 3600_000,
  PASSWORD_CHANGED: 24 * 3600_000,
};

const FOOTER = `\n\n-- \n${PRODUCT_NAME}\nThis message was sent automatically; do not reply.`;

function minutes(ms: number): number {
  return Math.round(ms / 60_000);
}

export function verifyEmailMail(to: string, username: string, code: string, ttlMs: number): OutgoingMail {
  return {
    to: [to],
    subject: `[${PRODUCT_NAME}] Verify your e-mail address`,
    text:
      `The e-mail address of the ${PRODUCT_NAME} account "${username}" was set to this address.\n\n` +
      `Verification code: ${code}\n\nEnter it in ${PRODUCT_NAME} within ${minutes(ttlMs)} minutes. ` +
      "If you did not expect this, ignore this message." +
      FOOTER,
  };
}

export function loginCodeMail(to: string, username: string, code: string, ttlMs: number): OutgoingMail {
  return {
    to: [to],
    subject: `[${PRODUCT_NAME}] Sign-in code`,
    text:
      `Someone signed in to ${PRODUCT_NAME} as "${username}" with the right password.\n\n` +
      `Sign-in code: ${code}\n\nIt is valid for ${minutes(ttlMs)} minutes and can be used once. ` +
      "If this was not you, change your password now." +
      FOOTER,
  };
}

/** The reset code as shown: 1234-5678. */
export function showResetCode(code: string): string {
  return code.length === 8 ? `${code.slice(0, 4)}-${code.slice(4)}` : code;
}

export function resetMail(to: string, username: string, code: string, ttlMs: number): OutgoingMail {
  return {
    to: [to],
    subject: `[AUTH] ${PRODUCT_NAME} Password Reset`,
    text:
      `A password reset was requested for the ${PRODUCT_NAME} account "${username}".\n\n` +
      `Reset code: ${showResetCode(code)}\n\nOn the sign-in page enter your user name and this code as the password, ` +
      `then choose a new password. The code is valid for ${minutes(ttlMs)} minutes and can be used once. ` +
      "If you did not ask for this, ignore this message: your password stays as it is." +
      FOOTER,
  };
}

export function directoryResetMail(to: string, username: string): OutgoingMail {
  return {
    to: [to],
    subject: `[AUTH] ${PRODUCT_NAME} Password Reset`,
    text:
      `A password reset was requested for the ${PRODUCT_NAME} account "${username}".\n\n` +
      `This account signs in with its directory (LDAP / Active Directory) password, which ${PRODUCT_NAME} cannot change. ` +
      "Reset your password in your directory (ask your directory administrator)." +
      FOOTER,
  };
}

export function passwordChangedMail(to: string, username: string): OutgoingMail {
  return {
    to: [to],
    subject: `[${PRODUCT_NAME}] Your password was changed`,
    text: `The password of the ${PRODUCT_NAME} account "${username}" was changed, and its other sessions were ended.\n\n` + "If you did not do this, contact your administrator at once." + FOOTER,
  };
}
