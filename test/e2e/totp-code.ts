// A TOTP code to type into a page, taken well inside its time step. With window 0 (the default)
// the server accepts only the current step's code: a code generated in the last moments of a step
// is a step old by the time the browser has typed and sent it, and is refused. Tests that confirm
// a new secret with such a code failed now and then for that reason alone.

import { setTimeout as sleep } from "node:timers/promises";
import type * as OTPAuth from "otpauth";

/** The current step's code, waiting for the next step when fewer than `marginMs` of this one are left. */
export async function codeWellInsideStep(totp: OTPAuth.TOTP, marginMs = 5000): Promise<string> {
  const stepMs = totp.period * 1000;
  const left = stepMs - (Date.now() % stepMs);
  if (left < marginMs) await sleep(left + 50);
  return totp.generate();
}
