// Settings (reference §5.5, §7.7, §7.8; SPEC.md lock-out): password policy and lock-out
// (system.security), two-factor authentication (auth.twofactor), and STIG mode with its
// preconditions checked live and explained.

import { useEffect, useState, type ReactNode } from "react";
import { api } from "../api";
import { useSession } from "../session";
import { useSubmit } from "../forms";
import { CheckField, ErrorBox, ErrorSummary, Loading, TextField, useAsync, useToast } from "../ui";
import type { TwofactorGlobalConfig } from "../api-types";

type TwoFactor = TwofactorGlobalConfig;

const CLASSES: [string, string][] = [
  ["UPPER", "Upper-case letter"],
  ["LOWER", "Lower-case letter"],
  ["NUMBER", "Digit"],
  ["SPECIAL", "Special character"],
];

const num = (v: string): number | null => (v.trim() === "" ? null : Number(v));
const str = (v: number | null | undefined): string => (v === null || v === undefined ? "" : String(v));

/** One number field of the policy form: the setting it edits, its label, bounds and hint. */
interface NumberSetting {
  name: string;
  label: string;
  min: number;
  max?: number;
  hint?: string;
}
const AGE_AND_LENGTH: NumberSetting[] = [
  { name: "min_password_length", label: "Minimum password length", min: 8, hint: "8 or more; empty for no rule." },
  { name: "password_history_length", label: "Password history", min: 1, max: 10, hint: "Previous passwords that cannot be reused (1–10)." },
  { name: "min_password_age", label: "Minimum password age (days)", min: 1 },
  { name: "max_password_age", label: "Maximum password age (days)", min: 7, max: 365, hint: "7–365; passwords expire after this." },
];
const LOCKOUT: NumberSetting[] = [
  { name: "lockout_threshold", label: "Lock out after failed logins", min: 0, hint: "Consecutive failures; 0 turns lock-out off." },
  { name: "lockout_duration", label: "Lock-out duration (seconds)", min: 0, hint: "How long a locked-out account waits; 0 turns lock-out off." },
];

function numberField(f: NumberSetting, form: Record<string, string>, set: (k: string) => (v: string) => void, errors: Record<string, string[]>) {
  return <TextField key={f.name} label={f.label} name={f.name} type="number" min={f.min} max={f.max} value={form[f.name] ?? ""} onValue={set(f.name)} errors={errors} hint={f.hint} />;
}

export function SettingsPage() {
  return (
    <section className="page" aria-labelledby="settings-h">
      <div className="page-head">
        <h1 id="settings-h">Settings</h1>
      </div>
      <PolicySection />
      <TwoFactorSection />
      <StigSection />
    </section>
  );
}

function Card({ title, children, id }: { title: string; children: ReactNode; id: string }) {
  return (
    <section className="card section-card" aria-labelledby={id}>
      <h2 id={id}>{title}</h2>
      {children}
    </section>
  );
}

function PolicySection() {
  const s = useSession();
  const toast = useToast();
  const canWrite = s.can("SYSTEM_SECURITY_WRITE") && s.has("system.security.update");
  const cfg = useAsync(() => api.call("system.security.config"), []);
  const [form, setForm] = useState<Record<string, string>>({});
  const [classes, setClasses] = useState<string[]>([]);
  const { errs, busy, onSubmit } = useSubmit([
    "min_password_length",
    "password_history_length",
    "min_password_age",
    "max_password_age",
    "password_complexity_ruleset",
    "lockout_threshold",
    "lockout_duration",
  ]);
  useEffect(() => {
    const c = cfg.data;
    if (!c) return;
    setForm({
      min_password_length: str(c.min_password_length),
      password_history_length: str(c.password_history_length),
      min_password_age: str(c.min_password_age),
      max_password_age: str(c.max_password_age),
      lockout_threshold: str(c.lockout_threshold),
      lockout_duration: str(c.lockout_duration),
    });
    setClasses(c.password_complexity_ruleset ?? []);
  }, [cfg.data]);
  if (cfg.loading && !cfg.data) return <Loading />;
  if (!cfg.data) return <ErrorBox error={cfg.error} onRetry={cfg.reload} />;
  const hasLockout = "lockout_threshold" in cfg.data;
  const set = (k: string) => (v: string) => setForm((f) => ({ ...f, [k]: v }));
  const submit = onSubmit(async () => {
    const body: Record<string, unknown> = {
      min_password_length: num(form.min_password_length),
      password_history_length: num(form.password_history_length),
      min_password_age: num(form.min_password_age),
      max_password_age: num(form.max_password_age),
      password_complexity_ruleset: classes.length ? new Set(classes) : null,
    };
    if (hasLockout) {
      body.lockout_threshold = num(form.lockout_threshold) ?? 0;
      body.lockout_duration = num(form.lockout_duration) ?? 0;
    }
    await api.call("system.security.update", body);
    toast("Password policy saved.");
    cfg.reload();
  });
  const E = errs.fields;
  return (
    <Card title="Password policy and lock-out" id="policy-h">
      <form onSubmit={submit} noValidate data-testid="policy-form">
        <ErrorSummary general={errs.general} summaryRef={errs.summaryRef} />
        {cfg.data.enable_gpos_stig && <p className="alert info">STIG mode is on: it enforces at least 15 characters, all four character classes, a history of 5, and ages of 1 to 60 days.</p>}
        <fieldset disabled={!canWrite || busy} className="plain">
          <div className="grid2">{AGE_AND_LENGTH.map((f) => numberField(f, form, set, E))}</div>
          <fieldset className={`field ${E.password_complexity_ruleset ? "invalid" : ""}`} data-field="password_complexity_ruleset" tabIndex={-1}>
            <legend>Required character classes</legend>
            <div className="row wrap">
              {CLASSES.map(([k, label]) => (
                <label key={k} className="check">
                  <input type="checkbox" checked={classes.includes(k)} onChange={(e) => setClasses(e.target.checked ? [...classes, k] : classes.filter((c) => c !== k))} /> {label}
                </label>
              ))}
            </div>
            {E.password_complexity_ruleset && <div className="field-error">{E.password_complexity_ruleset.join(" ")}</div>}
          </fieldset>
          {hasLockout && <div className="grid2">{LOCKOUT.map((f) => numberField(f, form, set, E))}</div>}
        </fieldset>
        {canWrite && (
          <div className="actions">
            <button type="submit" className="primary" disabled={busy} data-testid="save-policy">
              Save policy
            </button>
          </div>
        )}
      </form>
    </Card>
  );
}

function TwoFactorSection() {
  const s = useSession();
  const toast = useToast();
  const readable = s.allowed("auth.twofactor.config", "SYSTEM_SECURITY_READ");
  const canWrite = s.can("SYSTEM_SECURITY_WRITE") && s.has("auth.twofactor.update");
  const cfg = useAsync(() => (readable ? api.call("auth.twofactor.config") : Promise.resolve(null)), [readable]);
  const [tf, setTf] = useState<TwoFactor | null>(null);
  const { errs, busy, onSubmit } = useSubmit(["enabled", "enable", "window", "services"]);
  useEffect(() => {
    if (cfg.data) setTf({ ...cfg.data, services: { ssh: !!cfg.data.services?.ssh } });
  }, [cfg.data]);
  if (!readable) return null;
  if (!tf) return cfg.error ? <ErrorBox error={cfg.error} onRetry={cfg.reload} /> : <Loading />;
  const submit = onSubmit(async () => {
    await api.call("auth.twofactor.update", { enabled: tf.enabled, window: Number(tf.window), services: tf.services });
    toast("Two-factor settings saved.");
    cfg.reload();
  });
  const E = errs.fields;
  return (
    <Card title="Two-factor authentication" id="tf-h">
      <form onSubmit={submit} noValidate data-testid="twofactor-form">
        <ErrorSummary general={errs.general} summaryRef={errs.summaryRef} />
        <p className="hint">When enabled, users who have set up an authenticator must enter a code after their password.</p>
        <fieldset disabled={!canWrite || busy} className="plain">
          <CheckField label="Enable two-factor authentication" name="enabled" checked={tf.enabled} onValue={(v) => setTf({ ...tf, enabled: v })} errors={E} />
          <TextField
            label="Tolerance window"
            name="window"
            type="number"
            min={0}
            value={String(tf.window)}
            onValue={(v) => setTf({ ...tf, window: Number(v) })}
            errors={E}
            hint="Extra 30-second steps accepted before and after the current one."
          />
          <CheckField label="Also require it for SSH" name="services" checked={tf.services.ssh} onValue={(v) => setTf({ ...tf, services: { ssh: v } })} errors={E} />
        </fieldset>
        {canWrite && (
          <div className="actions">
            <button type="submit" className="primary" disabled={busy}>
              Save two-factor settings
            </button>
          </div>
        )}
      </form>
    </Card>
  );
}

function StigSection() {
  const s = useSession();
  const toast = useToast();
  const canWrite = s.can("SYSTEM_SECURITY_WRITE") && s.has("system.security.update");
  const checks = useAsync(async () => {
    const [sec, tf, admins2fa, pwAdmins] = await Promise.all([
      api.call("system.security.config"),
      api.call("auth.twofactor.config").catch(() => null),
      api
        .count("user.query", [
          ["local", "=", true],
          ["locked", "=", false],
          ["twofactor_auth_configured", "=", true],
          ["roles", "rin", "FULL_ADMIN"],
        ])
        .catch(() => null),
      api
        .select(
          "user.query",
          [
            ["immutable", "=", true],
            ["password_disabled", "=", false],
            ["username", "in", ["root", "admin"]],
          ],
          ["username"],
        )
        .catch(() => null),
    ]);
    return { sec, tf, admins2fa, pwAdmins };
  }, []);
  const { errs, busy, run } = useSubmit(["enable_gpos_stig"]);
  if (!checks.data) return checks.error ? <ErrorBox error={checks.error} /> : <Loading />;
  const { sec, tf, admins2fa, pwAdmins } = checks.data;
  const on = sec.enable_gpos_stig;
  const pre: { ok: boolean | null; text: string }[] = [
    { ok: tf ? tf.enabled : null, text: "Two-factor authentication is enabled (Settings above)." },
    { ok: tf ? !!tf.services?.ssh : null, text: "Two-factor authentication is also required for SSH." },
    { ok: admins2fa === null ? null : admins2fa > 0, text: "At least one unlocked local administrator (Full Admin) has an authenticator set up." },
    { ok: s.me?.account_attributes.includes("2FA") ?? false, text: "You signed in to this session with two-factor authentication." },
    {
      ok: pwAdmins === null ? null : pwAdmins.length === 0,
      text: `The built-in administrator accounts (root, admin) have password login disabled${pwAdmins?.length ? ` — still enabled on: ${pwAdmins.map((u) => u.username).join(", ")}` : ""}.`,
    },
  ];
  const ready = pre.every((p) => p.ok !== false);
  const toggle = () =>
    run(async () => {
      await api.call("system.security.update", { enable_gpos_stig: !on });
      toast(on ? "STIG mode turned off." : "STIG mode turned on.");
      checks.reload();
      await s.refreshMe();
    });
  return (
    <Card title="STIG mode" id="stig-h">
      <p>
        STIG mode applies the U.S. DoD security profile: sessions require a password <em>and</em> an authenticator code, last at most 12 hours and end after 30 minutes idle; API keys cannot be created
        or changed; SMB access for local users is turned off; roles not allowed under STIG are removed from every privilege, and Full Admin is no longer unlimited; the password policy gets its strict
        defaults.
      </p>
      <p>
        STIG mode is currently <strong data-testid="stig-state">{on ? "on" : "off"}</strong>.
      </p>
      {!on && (
        <>
          <h3>Before it can be turned on</h3>
          <ul className="checklist" data-testid="stig-preconditions">
            {pre.map((p, i) => (
              <li key={i} className={p.ok === null ? "unknown" : p.ok ? "ok" : "no"}>
                <span aria-hidden="true">{p.ok === null ? "?" : p.ok ? "✓" : "✗"}</span>
                <span className="sr-only">{p.ok === null ? "Unknown: " : p.ok ? "Met: " : "Not met: "}</span> {p.text}
              </li>
            ))}
          </ul>
        </>
      )}
      <ErrorSummary general={errs.general} summaryRef={errs.summaryRef} />
      {canWrite && (
        <div className="actions left">
          <button type="button" className={on ? "" : "primary"} onClick={() => void toggle()} disabled={busy || (!on && !ready)} data-testid="toggle-stig">
            {on ? "Turn STIG mode off" : "Turn STIG mode on"}
          </button>
          {!on && !ready && <span className="hint">Meet the conditions above first.</span>}
        </div>
      )}
    </Card>
  );
}
