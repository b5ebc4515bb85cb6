// Sign in (reference §7.2–7.3): password (or a one-time password), the OTP step after
// OTP_REQUIRED, expired passwords (EXPIRED → choose a new one), DENIED and AUTH_ERR in plain words,
// "forgot password" (auth.password_reset.request), and the forced password change after signing
// in with a one-time password or when the password is about to expire.

import { useEffect, useRef, useState, type FormEvent } from "react";
import { api, RpcError } from "../api";
import { useSession, type LoginOutcome } from "../session";
import { NewPasswordFields, passwordsMatch, usePasswordPair, useSubmit } from "../forms";
import { ErrorSummary, TextField } from "../ui";

const MESSAGES: Record<string, string> = {
  AUTH_ERR: "The username or password is incorrect.",
  DENIED: "Your username and password are correct, but your account has no access to this server. Ask an administrator to give you a role.",
  OTP_AUTH_ERR: "That code is incorrect or has already been used. Sign in again with your password.",
  OTP_RETRY: "That code is incorrect or has already been used. Enter the code your app shows now",
};

export function SignIn() {
  const s = useSession();
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [code, setCode] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [mode, setMode] = useState<"password" | "expired" | "forgot">("password");
  const codeRef = useRef<HTMLInputElement>(null);
  const userRef = useRef<HTMLInputElement>(null);

  useEffect(() => {
    if (s.phase === "otp") codeRef.current?.focus();
    else userRef.current?.focus();
  }, [s.phase, mode]);

  const outcome = (r: LoginOutcome, otp = false) => {
    switch (r.kind) {
      case "ok":
      case "otp":
        setError(null);
        return;
      case "AUTH_ERR":
        if (otp && r.retriesLeft) {
          setError(`${MESSAGES.OTP_RETRY} (${r.retriesLeft} ${r.retriesLeft === 1 ? "try" : "tries"} left).`);
          return;
        }
        setError(otp ? MESSAGES.OTP_AUTH_ERR : MESSAGES.AUTH_ERR);
        setPassword("");
        return;
      case "DENIED":
        setError(MESSAGES.DENIED);
        return;
      case "EXPIRED":
        if (otp) setError("The sign-in attempt expired. Sign in again.");
        else {
          setError(null);
          setMode("expired");
        }
        return;
      case "REDIRECT":
        setError(`This server is a standby. Sign in at: ${(r.urls ?? []).join(", ")}`);
        return;
      default:
        setError(`Sign-in failed: ${r.message}`);
    }
  };

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (!username || !password) {
      setError("Enter your username and password.");
      return;
    }
    setBusy(true);
    setError(null);
    s.setNotice(null);
    outcome(await s.login(username.trim(), password));
    setBusy(false);
  };

  /** Forgot password, second step: the mailed reset code signs in like a one-time password. */
  const signInWithCode = async (user: string, resetCode: string) => {
    setUsername(user);
    setError(null);
    const r = await s.login(user, resetCode.trim());
    if (r.kind === "AUTH_ERR") setError("That reset code is wrong, has expired or was already used. Ask for a new code.");
    else {
      if (r.kind === "ok") setMode("password");
      outcome(r);
    }
  };

  const submitCode = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    const r = await s.submitOtp(code);
    setCode("");
    outcome(r, true);
    setBusy(false);
  };

  return (
    <div className="center-screen">
      <main className="card auth-card" id="main">
        <h1>{s.phase === "otp" ? "Two-factor authentication" : mode === "expired" ? "Password expired" : mode === "forgot" ? "Reset your password" : "Sign in to Gatehouse"}</h1>
        {s.notice && (
          <p className="alert info" role="status" data-testid="signin-notice">
            {s.notice}
          </p>
        )}
        {error && (
          <p className="alert error" role="alert" data-testid="signin-error">
            {error}
          </p>
        )}
        {s.phase === "otp" ? (
          <form onSubmit={submitCode} data-testid="otp-form">
            <p>
              Enter the code from the authenticator app for <strong>{s.otpUser}</strong> — or, if your account receives its codes by e-mail, the code just sent to your address.
            </p>
            <div className="field">
              <label htmlFor="otp">Authentication code</label>
              <input
                id="otp"
                name="otp"
                ref={codeRef}
                inputMode="numeric"
                autoComplete="one-time-code"
                pattern="[0-9]*"
                maxLength={8}
                value={code}
                onChange={(e) => setCode(e.target.value.replace(/\s/g, ""))}
              />
            </div>
            <button type="submit" className="primary wide" disabled={busy || code.length < 6}>
              {busy ? "Checking…" : "Verify"}
            </button>
            <button type="button" className="link" onClick={() => s.cancelOtp()}>
              Use a different account
            </button>
            <details className="help" data-testid="lost-authenticator">
              <summary>Lost your authenticator?</summary>
              <p>
                Ask an administrator for a <strong>one-time password</strong> (Users → your account → One-time password). Sign in with it instead of your password: no code is asked. You then choose a
                new password, and under <strong>My profile → Two-factor authentication</strong> you set up your new phone; the old authenticator stops working once the new one is confirmed. An
                administrator can also remove your two-factor secret (Users → your account → Reset two-factor authentication).
              </p>
            </details>
          </form>
        ) : mode === "expired" ? (
          <ExpiredPassword username={username} oldPassword={password} onDone={() => setMode("password")} />
        ) : mode === "forgot" ? (
          <ForgotPassword initial={username} onBack={() => setMode("password")} onCode={signInWithCode} />
        ) : (
          <form onSubmit={submit} data-testid="signin-form">
            <div className="field">
              <label htmlFor="username">Username</label>
              <input id="username" name="username" ref={userRef} autoComplete="username" autoCapitalize="none" spellCheck={false} value={username} onChange={(e) => setUsername(e.target.value)} />
            </div>
            <div className="field">
              <label htmlFor="password">Password</label>
              <input id="password" name="password" type="password" autoComplete="current-password" value={password} onChange={(e) => setPassword(e.target.value)} aria-describedby="pw-hint" />
              <div className="hint" id="pw-hint">
                Got a one-time password from an administrator? Enter it here.
              </div>
            </div>
            <button type="submit" className="primary wide" disabled={busy}>
              {busy ? "Signing in…" : "Sign in"}
            </button>
            <button type="button" className="link" onClick={() => setMode("forgot")}>
              Forgot password?
            </button>
          </form>
        )}
      </main>
    </div>
  );
}

function ForgotPassword({ initial, onBack, onCode }: { initial: string; onBack: () => void; onCode: (username: string, code: string) => Promise<void> }) {
  const [username, setUsername] = useState(initial);
  const [code, setCode] = useState("");
  const [signingIn, setSigningIn] = useState(false);
  const submitResetCode = async (e: FormEvent) => {
    e.preventDefault();
    setSigningIn(true);
    await onCode(username.trim(), code);
    setSigningIn(false);
  };
  const [state, setState] = useState<"idle" | "busy" | "sent" | "unavailable" | "error">("idle");
  const [msg, setMsg] = useState("");
  const submit = async (e: FormEvent) => {
    // After the request, Enter in the code field signs in (it never asks again, which would replace the code).
    if (state === "sent") return submitResetCode(e);
    e.preventDefault();
    setState("busy");
    try {
      await api.callOptional("auth.password_reset.request", { username: username.trim() });
      setState("sent");
    } catch (err) {
      if (err instanceof RpcError && err.methodMissing) setState("unavailable");
      else {
        setState("error");
        setMsg(err instanceof Error ? err.message : String(err));
      }
    }
  };
  return (
    <form onSubmit={submit} data-testid="forgot-form">
      {state === "sent" ? (
        <>
          <p className="alert ok" role="status" data-testid="reset-sent">
            If an account with that name exists and has a verified email address, a reset code has been sent to it. The code is valid for 15 minutes. Enter it below (or as your password on the sign-in
            page), then choose a new password.
          </p>
          <div className="field">
            <label htmlFor="reset-code">Reset code</label>
            <input id="reset-code" name="reset-code" inputMode="numeric" autoComplete="one-time-code" value={code} onChange={(e) => setCode(e.target.value)} />
          </div>
          <button type="submit" className="primary wide" disabled={code.replace(/\D/g, "").length < 8 || signingIn} data-testid="reset-code-submit">
            {signingIn ? "Signing in…" : "Sign in with code"}
          </button>
        </>
      ) : state === "unavailable" ? (
        <p className="alert info" role="status">
          Password reset by email is not available on this server. Ask an administrator for a one-time password.
        </p>
      ) : (
        <>
          <p>Enter your username. A code to sign in will be emailed to the address on your account.</p>
          {state === "error" && (
            <p className="alert error" role="alert">
              {msg}
            </p>
          )}
          <div className="field">
            <label htmlFor="reset-username">Username</label>
            <input id="reset-username" autoComplete="username" value={username} onChange={(e) => setUsername(e.target.value)} />
          </div>
          <button type="submit" className="primary wide" disabled={!username.trim() || state === "busy"}>
            Send reset code
          </button>
        </>
      )}
      <button type="button" className="link" onClick={onBack}>
        Back to sign in
      </button>
    </form>
  );
}

function ExpiredPassword({ username, oldPassword, onDone }: { username: string; oldPassword: string; onDone: () => void }) {
  const s = useSession();
  const pw = usePasswordPair();
  const { errs, busy, onSubmit } = useSubmit(["new_password", "old_password"]);
  const submit = onSubmit(
    async () => {
      await api.call("user.set_password", { username, old_password: oldPassword, new_password: pw.value });
      const r = await s.login(username, pw.value);
      if (r.kind !== "ok" && r.kind !== "otp") {
        errs.setGeneral("Your password was changed. Sign in with the new password.");
        onDone();
      }
    },
    {
      check: () => passwordsMatch(pw, errs, false),
      explain: (err) =>
        err instanceof RpcError && err.errname === "ENOTAUTHENTICATED"
          ? "This server does not allow changing an expired password before signing in. Ask an administrator for a one-time password, or use “Forgot password”."
          : null,
    },
  );
  return (
    <form onSubmit={submit} data-testid="expired-form">
      <p className="alert info" role="status">
        The password of <strong>{username}</strong> has expired. Choose a new password to continue.
      </p>
      <ErrorSummary general={errs.general} summaryRef={errs.summaryRef} />
      <NewPasswordFields pair={pw} errors={errs.fields} />
      <button type="submit" className="primary wide" disabled={busy || !pw.value}>
        Change password and sign in
      </button>
      <button type="button" className="link" onClick={onDone}>
        Back to sign in
      </button>
    </form>
  );
}

/** Forced change after a one-time-password login or when the password must be changed now. */
export function ChangePasswordScreen() {
  const s = useSession();
  const otpw = s.me?.account_attributes.includes("OTPW") ?? false;
  const [old, setOld] = useState("");
  const pw = usePasswordPair();
  const { errs, busy, onSubmit } = useSubmit(["new_password", "old_password"]);
  const knownOld = s.lastPassword;
  const needOld = !otpw && !knownOld && !s.can("FULL_ADMIN");
  const submit = onSubmit(
    async () => {
      await api.call("user.set_password", { username: s.me!.pw_name, new_password: pw.value, ...(otpw ? {} : { old_password: needOld ? old : knownOld }) });
      await s.finishPasswordChange();
    },
    { check: () => passwordsMatch(pw, errs) },
  );
  return (
    <div className="center-screen">
      <main className="card auth-card" id="main">
        <h1>Choose a new password</h1>
        <p className="alert info" role="status">
          {s.changeReason}
        </p>
        <form onSubmit={submit} data-testid="change-password-form">
          <ErrorSummary general={errs.general} summaryRef={errs.summaryRef} />
          {needOld && <TextField label="Current password" name="old_password" type="password" autoComplete="current-password" value={old} onValue={setOld} errors={errs.fields} />}
          <NewPasswordFields pair={pw} errors={errs.fields} />
          <button type="submit" className="primary wide" disabled={busy || !pw.value}>
            Save new password
          </button>
          <button type="button" className="link" onClick={() => void s.logout()}>
            Sign out
          </button>
        </form>
      </main>
    </div>
  );
}
