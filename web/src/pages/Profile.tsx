// My profile, for every signed-in user: account summary, change password (user.set_password),
// two-factor setup (user.stage_2fa_secret → otpauth:// URI shown as a QR code and as text, then
// user.confirm_2fa_secret with a code from the app turns it on; user.renew_2fa_secret on servers
// without staging),
// my API keys, my sessions.

import { useMemo, useState } from "react";
import { api } from "../api";
import { encodeQr, qrSvgPath } from "../qr";
import { useSession } from "../session";
import { NewPasswordFields, passwordsMatch, usePasswordPair, useSubmit } from "../forms";
import { CopyField, ErrorBox, ErrorSummary, SelectField, TextField, useAsync, useToast } from "../ui";
import { ApiKeysPanel } from "./ApiKeys";
import { SessionsPanel } from "./Sessions";
import { ROLE_LABELS, accountAttributeText } from "../words";
import { ProfileEmail } from "./EmailVerification";

export function QrCode({ text, label }: { text: string; label: string }) {
  const q = useMemo(() => {
    try {
      return encodeQr(text);
    } catch {
      return null;
    }
  }, [text]);
  if (!q) return null;
  const n = q.size + 8;
  return (
    <svg className="qr" viewBox={`0 0 ${n} ${n}`} role="img" aria-label={label} shapeRendering="crispEdges" data-testid="totp-qr" data-version={q.version}>
      <rect width={n} height={n} fill="#fff" />
      <path d={qrSvgPath(q)} fill="#000" />
    </svg>
  );
}

function secretOf(uri: string): string {
  try {
    return new URL(uri).searchParams.get("secret") ?? "";
  } catch {
    return /secret=([A-Z2-7]+)/i.exec(uri)?.[1] ?? "";
  }
}

export function ProfilePage() {
  const s = useSession();
  const me = s.me!;
  const roles = me.privilege.roles;
  const compound = roles.filter((r) => ROLE_LABELS[r]);
  const attrs = accountAttributeText(me.account_attributes);
  const roleSummary = roles.includes("FULL_ADMIN") ? "Full administrator" : compound.length ? compound.map((r) => ROLE_LABELS[r]).join(", ") : roles.length ? `${roles.length} roles` : "None";
  return (
    <section className="page" aria-labelledby="profile-h">
      <div className="page-head">
        <h1 id="profile-h">My profile</h1>
      </div>
      <section className="card section-card" aria-labelledby="acct-h">
        <h2 id="acct-h">Account</h2>
        <dl className="facts">
          <div>
            <dt>Username</dt>
            <dd data-testid="profile-username">{me.pw_name}</dd>
          </div>
          <div>
            <dt>Full name</dt>
            <dd>{me.pw_gecos || "—"}</dd>
          </div>
          <div>
            <dt>UID</dt>
            <dd>{me.pw_uid}</dd>
          </div>
          <div>
            <dt>Home directory</dt>
            <dd>
              <code>{me.pw_dir}</code>
            </dd>
          </div>
          <div>
            <dt>Access</dt>
            <dd title={roles.join(", ") || undefined}>{roleSummary}</dd>
          </div>
          <div>
            <dt>Account</dt>
            <dd title={me.account_attributes.join(", ")}>{attrs.account}</dd>
          </div>
          <div>
            <dt>Signed in with</dt>
            <dd title={me.account_attributes.join(", ")}>{attrs.signedIn}</dd>
          </div>
        </dl>
      </section>
      {me.local !== false && <ChangePassword />}
      {me.local !== false && s.has("user.renew_2fa_secret") && <TwoFactorSetup />}
      {me.local !== false && s.has("user.verify_email") && <ProfileEmail username={me.pw_name} />}
      {(s.has("api_key.my_keys") || s.has("api_key.create")) && (
        <section className="card section-card" aria-labelledby="mykeys-h">
          <h2 id="mykeys-h">My API keys</h2>
          <ApiKeysPanel mine />
        </section>
      )}
      <section className="card section-card" aria-labelledby="mysess-h">
        <h2 id="mysess-h">My sessions</h2>
        {s.has("auth.sessions") ? <SessionsPanel mine /> : <p className="hint">Your roles do not include viewing sessions. Signing out ends this session.</p>}
      </section>
    </section>
  );
}

function ChangePassword() {
  const s = useSession();
  const toast = useToast();
  const [old, setOld] = useState("");
  const pw = usePasswordPair();
  const { errs, busy, onSubmit } = useSubmit(["old_password", "new_password"]);
  const submit = onSubmit(
    async () => {
      await api.call("user.set_password", { username: s.me!.pw_name, new_password: pw.value, ...(old ? { old_password: old } : {}) });
      setOld("");
      pw.reset();
      toast("Your password has been changed.");
    },
    { check: () => passwordsMatch(pw, errs) },
  );
  return (
    <section className="card section-card" aria-labelledby="pw-h">
      <h2 id="pw-h">Change password</h2>
      <form onSubmit={submit} noValidate data-testid="change-password">
        <ErrorSummary general={errs.general} summaryRef={errs.summaryRef} />
        <div className="grid3">
          <TextField label="Current password" name="old_password" type="password" autoComplete="current-password" value={old} onValue={setOld} errors={errs.fields} />
          <NewPasswordFields pair={pw} errors={errs.fields} />
        </div>
        <div className="actions">
          <button type="submit" className="primary" disabled={busy || !pw.value}>
            Change password
          </button>
        </div>
      </form>
    </section>
  );
}

function TwoFactorSetup() {
  const s = useSession();
  const toast = useToast();
  const configured = s.me?.two_factor_config?.secret_configured ?? false;
  const [digits, setDigits] = useState("6");
  const [interval, setIntervalS] = useState("30");
  const [uri, setUri] = useState<string | null>(null);
  const [code, setCode] = useState("");
  const { errs, busy, run } = useSubmit(["otp_digits", "interval", "otp_token"]);
  // Servers with user.stage_2fa_secret turn a new secret on only after a code from it is confirmed.
  const staged = s.has("user.stage_2fa_secret") && s.has("user.confirm_2fa_secret");
  const global = useAsync(() => (s.allowed("auth.twofactor.config", "SYSTEM_SECURITY_READ") ? api.call("auth.twofactor.config").catch(() => null) : Promise.resolve(null)), []);
  const opts = () => ({ otp_digits: Number(digits), interval: interval === "60" ? (60 as const) : (30 as const) });
  const start = () =>
    run(async () => {
      setCode("");
      if (staged) {
        const r = await api.call("user.stage_2fa_secret", s.me!.pw_name, opts());
        setUri(r.provisioning_uri);
        return;
      }
      const r = await api.call("user.renew_2fa_secret", s.me!.pw_name, opts());
      setUri(r?.twofactor_config?.provisioning_uri ?? null);
      await s.refreshMe();
      toast("A new authenticator secret was created. Add it to your app now.");
    });
  const confirm = () =>
    run(async () => {
      await api.call("user.confirm_2fa_secret", s.me!.pw_name, code.trim());
      setUri(null);
      setCode("");
      await s.refreshMe();
      toast("Two-factor authentication is set up: sign-ins now ask for a code from your app.");
    });
  return (
    <section className="card section-card" aria-labelledby="tf2-h">
      <h2 id="tf2-h">Two-factor authentication</h2>
      <p>
        Status: <strong data-testid="twofactor-status">{configured ? "An authenticator is set up" : "Not set up"}</strong>
        {global.data && !global.data.enabled && <span className="hint"> — two-factor sign-in is currently turned off for this server, so codes are not asked for yet.</span>}
      </p>
      <ErrorSummary general={errs.general} summaryRef={errs.summaryRef} />
      {!uri && (
        <div className="row end wrap">
          <SelectField label="Code length" name="otp_digits" value={digits} onValue={setDigits} errors={errs.fields}>
            <option value="6">6 digits</option>
            <option value="7">7 digits</option>
            <option value="8">8 digits</option>
          </SelectField>
          <SelectField label="Code lifetime" name="interval" value={interval} onValue={setIntervalS} errors={errs.fields}>
            <option value="30">30 seconds</option>
            <option value="60">60 seconds</option>
          </SelectField>
          <button type="button" className="primary" onClick={() => void start()} disabled={busy} data-testid="setup-2fa">
            {configured ? "Replace authenticator" : "Set up an authenticator"}
          </button>
        </div>
      )}
      {configured && !uri && (
        <p className="hint">
          {staged ? "Your current authenticator keeps working until the new one is confirmed with a code." : "Replacing the secret stops codes from your current authenticator app from working."}
        </p>
      )}
      {uri && (
        <div className="totp" data-testid="totp-setup">
          <QrCode text={uri} label="QR code with the authenticator secret" />
          <div className="grow">
            <p>
              <strong>Step 1.</strong> Scan the QR code with an authenticator app (or enter the secret by hand). It is shown only now.
            </p>
            <CopyField label="Secret" value={secretOf(uri)} testid="totp-secret" />
            <CopyField label="Provisioning URI" value={uri} testid="totp-uri" />
            {staged && (
              <form
                onSubmit={(e) => {
                  e.preventDefault();
                  void confirm();
                }}
                noValidate
                data-testid="totp-confirm"
              >
                <p>
                  <strong>Step 2.</strong> Enter the code the app now shows. Two-factor authentication is turned on only when the code matches
                  {configured ? "; until then your current authenticator keeps working" : ""}.
                </p>
                <div className="row end wrap">
                  <TextField
                    label="Code from the app"
                    name="otp_token"
                    inputMode="numeric"
                    autoComplete="one-time-code"
                    maxLength={8}
                    value={code}
                    onValue={(v) => setCode(v.replace(/\s/g, ""))}
                    errors={errs.fields}
                  />
                  <button type="submit" className="primary" disabled={busy || code.length < 6} data-testid="confirm-2fa">
                    Confirm and turn on
                  </button>
                  <button type="button" onClick={() => setUri(null)}>
                    Cancel
                  </button>
                </div>
              </form>
            )}
          </div>
        </div>
      )}
      <details className="help" data-testid="lost-authenticator-help">
        <summary>Lost the phone with your authenticator?</summary>
        <p>
          Ask an administrator for a one-time password. You sign in with it instead of your password (no code is asked), choose a new password, and set up your new phone here. Administrators can also
          remove your two-factor secret from the Users screen.
        </p>
      </details>
      <ErrorBox error={global.error} />
    </section>
  );
}
