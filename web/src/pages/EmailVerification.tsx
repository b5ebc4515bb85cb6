// E-mail verification and the e-mailed second factor (issue 12, seeds 002/003), for the user form
// and My profile: the address's state, the code mailed to it pasted back (user.verify_email — by the
// user, or by an administrator as in seed 002), a new code (saving the address again), and the
// choice of e-mailed sign-in codes (user.set_twofactor_method). TOTP stays the recommended method.

import { useEffect, useState, type KeyboardEvent } from "react";
import { api, RpcError } from "../api";

export interface EmailState {
  id: number;
  email: string | null;
  email_verified: boolean;
  twofactor_method?: "TOTP" | "EMAIL" | null;
}

const noEnter = (e: KeyboardEvent) => {
  // These fields live inside other forms: Enter must not submit them.
  if (e.key === "Enter") e.preventDefault();
};

export function EmailVerification({ user: initial, canWrite }: { user: EmailState; canWrite: boolean }) {
  const [user, setUser] = useState(initial);
  const [code, setCode] = useState("");
  const [otp, setOtp] = useState("");
  const [msg, setMsg] = useState<{ kind: "ok" | "error"; text: string } | null>(null);
  const [busy, setBusy] = useState(false);
  const run = async (what: () => Promise<unknown>, done: string, next: Partial<EmailState>) => {
    setBusy(true);
    setMsg(null);
    try {
      await what();
      setMsg({ kind: "ok", text: done });
      setCode("");
      setOtp("");
      setUser((u) => ({ ...u, ...next }));
    } catch (err) {
      setMsg({ kind: "error", text: err instanceof RpcError ? err.message : String(err) });
    } finally {
      setBusy(false);
    }
  };
  if (!user.email) return null;
  return (
    <div className="field" data-testid="email-verification">
      <span className="label">E-mail address</span>
      <div className="static" data-testid="email-status">
        {user.email_verified ? "Verified" : "Not verified: a code was sent to the address when it was saved."}
      </div>
      {msg && (
        <p className={`alert ${msg.kind === "ok" ? "ok" : "error"}`} role={msg.kind === "ok" ? "status" : "alert"}>
          {msg.text}
        </p>
      )}
      {!user.email_verified && canWrite && (
        <div className="row wrap">
          <label htmlFor="email-code">Confirmation code</label>
          <input id="email-code" inputMode="numeric" autoComplete="one-time-code" value={code} onKeyDown={noEnter} onChange={(e) => setCode(e.target.value.trim())} />
          <button
            type="button"
            disabled={busy || code.length < 6}
            data-testid="verify-email"
            onClick={() => run(() => api.call("user.verify_email", user.id, { code }), "The address is verified.", { email_verified: true })}
          >
            Verify
          </button>
          <button type="button" className="link" disabled={busy} onClick={() => run(() => api.call("user.update", user.id, { email: user.email }), "A new code was sent.", {})}>
            Send a new code
          </button>
        </div>
      )}
      {user.email_verified && canWrite && (
        <div className="row wrap" data-testid="twofactor-method">
          <span>
            Second factor: <strong>{user.twofactor_method === "EMAIL" ? "codes by e-mail" : user.twofactor_method === "TOTP" ? "authenticator app (recommended)" : "none"}</strong>
          </span>
          {user.twofactor_method === "EMAIL" ? (
            <button type="button" disabled={busy} onClick={() => run(() => api.call("user.set_twofactor_method", user.id, { method: null }), "Codes by e-mail are off.", { twofactor_method: null })}>
              Stop e-mailed codes
            </button>
          ) : (
            <>
              {user.twofactor_method === "TOTP" && (
                <>
                  <label htmlFor="email-2fa-otp">Code from the authenticator app</label>
                  <input id="email-2fa-otp" inputMode="numeric" value={otp} onKeyDown={noEnter} onChange={(e) => setOtp(e.target.value.trim())} />
                </>
              )}
              <button
                type="button"
                disabled={busy || (user.twofactor_method === "TOTP" && otp.length < 6)}
                data-testid="use-email-codes"
                onClick={() =>
                  run(() => api.call("user.set_twofactor_method", user.id, { method: "EMAIL", otp_token: otp || null }), "Sign-in codes will be sent by e-mail.", { twofactor_method: "EMAIL" })
                }
              >
                Use codes by e-mail
              </button>
              <span className="hint">An authenticator app is safer than e-mail; e-mailed codes are for those who cannot use one.</span>
            </>
          )}
        </div>
      )}
    </div>
  );
}

/** My profile: the signed-in user's own address (read with user.query, when the session may). */
export function ProfileEmail({ username }: { username: string }) {
  const [row, setRow] = useState<EmailState | null | undefined>(undefined);
  useEffect(() => {
    void api
      .callOptional("user.query", [["username", "=", username]], { select: ["id", "email", "email_verified", "twofactor_method"] })
      .then((r) => setRow(((r as EmailState[]) ?? [])[0] ?? null))
      .catch(() => setRow(null));
  }, [username]);
  if (!row?.email) return null;
  return (
    <section className="card section-card" aria-labelledby="myemail-h">
      <h2 id="myemail-h">E-mail and e-mailed codes</h2>
      <p>
        {row.email}. An administrator sets the address; its code arrives by e-mail. Once it is verified you may receive sign-in codes by e-mail instead of using an authenticator app (less safe), and
        reset a forgotten password from the sign-in page.
      </p>
      <EmailVerification user={row} canWrite />
    </section>
  );
}
