// Settings → Mail (issue 12): the outgoing SMTP server (mail.config / mail.update), a test message
// sent with the settings as they stand in the form (mail.send with an override, so they can be
// tried before saving), and the queue of sign-in, reset and verification mail with its failures
// (mail.queue). The SMTP password is never shown: leaving it empty keeps the stored one.

import { useEffect, useState, type FormEvent } from "react";
import { api, RpcError } from "../api";
import { useSession } from "../session";
import { useSubmit } from "../forms";
import { CheckField, ErrorBox, ErrorSummary, Loading, SelectField, Term, TextField, fmtDate, useAsync, useToast } from "../ui";

type Form = { outgoingserver: string; port: string; security: "PLAIN" | "SSL" | "TLS"; fromemail: string; fromname: string; smtp: boolean; user: string; pass: string };

const SECURITY_HINT: Record<Form["security"], string> = {
  PLAIN: "No encryption (port 25 usually). Use only inside a trusted network.",
  SSL: "TLS from the first byte (port 465 usually).",
  TLS: "STARTTLS, required (port 587 usually): a server that does not offer it is refused.",
};

export function MailSettingsPage() {
  const s = useSession();
  const toast = useToast();
  const canWrite = s.can("MAIL_WRITE") && s.has("mail.update");
  const cfg = useAsync(() => api.call("mail.config"), []);
  const [form, setForm] = useState<Form | null>(null);
  const { errs, busy, onSubmit } = useSubmit(["outgoingserver", "port", "security", "fromemail", "fromname", "smtp", "user", "pass"]);
  useEffect(() => {
    const c = cfg.data;
    if (c) setForm({ outgoingserver: c.outgoingserver, port: String(c.port), security: c.security, fromemail: c.fromemail, fromname: c.fromname, smtp: c.smtp, user: c.user ?? "", pass: "" });
  }, [cfg.data]);
  if (cfg.loading && !cfg.data) return <Loading />;
  if (!cfg.data || !form) return <ErrorBox error={cfg.error} onRetry={cfg.reload} />;
  const set =
    <K extends keyof Form>(k: K) =>
    (v: Form[K]) =>
      setForm((f) => (f ? { ...f, [k]: v } : f));
  const body = () => ({
    outgoingserver: form.outgoingserver.trim(),
    port: Number(form.port),
    security: form.security,
    fromemail: form.fromemail.trim(),
    fromname: form.fromname,
    smtp: form.smtp,
    user: form.smtp ? form.user : null,
    ...(form.pass ? { pass: form.pass } : {}),
  });
  const submit = onSubmit(async () => {
    await api.call("mail.update", body());
    toast("Mail settings saved.");
    cfg.reload();
  });
  const E = errs.fields;
  return (
    <section className="page" aria-labelledby="mail-h">
      <div className="page-head">
        <h1 id="mail-h">Mail</h1>
      </div>
      <p>Gatehouse sends e-mail to verify addresses, for e-mailed sign-in codes, and for password resets. Those mails wait in a queue and are retried while the server is unreachable.</p>
      <section className="card section-card" aria-labelledby="mail-server-h">
        <h2 id="mail-server-h">Outgoing mail server</h2>
        <form onSubmit={submit} noValidate data-testid="mail-form">
          <ErrorSummary general={errs.general} summaryRef={errs.summaryRef} />
          <fieldset disabled={!canWrite || busy} className="plain">
            <div className="grid2">
              <TextField label="Outgoing mail server" name="outgoingserver" value={form.outgoingserver} onValue={set("outgoingserver")} errors={E} hint="Host name or address; empty turns mail off." />
              <TextField label="Port" name="port" type="number" min={1} max={65535} value={form.port} onValue={set("port")} errors={E} />
              <SelectField label="Security" name="security" value={form.security} onValue={(v) => set("security")(v as Form["security"])} errors={E} hint={SECURITY_HINT[form.security]}>
                <option value="PLAIN">Plain (no encryption)</option>
                <option value="SSL">SSL (implicit TLS)</option>
                <option value="TLS">TLS (STARTTLS)</option>
              </SelectField>
              <span />
              <TextField label="From e-mail" name="fromemail" type="email" value={form.fromemail} onValue={set("fromemail")} errors={E} />
              <TextField label="From name" name="fromname" value={form.fromname} onValue={set("fromname")} errors={E} hint="Empty: Gatehouse." />
            </div>
            <CheckField label="SMTP authentication" name="smtp" checked={form.smtp} onValue={set("smtp")} errors={E} />
            {form.smtp && (
              <div className="grid2">
                <TextField label="User name" name="user" autoComplete="off" value={form.user} onValue={set("user")} errors={E} />
                <TextField
                  label="Password"
                  name="pass"
                  type="password"
                  autoComplete="new-password"
                  value={form.pass}
                  onValue={set("pass")}
                  errors={E}
                  hint={cfg.data.pass_set ? "A password is stored; leave empty to keep it." : "No password is stored."}
                />
              </div>
            )}
            <p className="hint">Server certificates are checked against the system's certificate authorities and those under Certificate authorities.</p>
          </fieldset>
          {canWrite && (
            <div className="actions">
              <button type="submit" className="primary" disabled={busy} data-testid="save-mail">
                Save
              </button>
            </div>
          )}
        </form>
      </section>
      {canWrite && s.has("mail.send") && <TestMail override={body} />}
      {s.has("mail.queue") && <MailQueue />}
    </section>
  );
}

function TestMail({ override }: { override: () => Record<string, unknown> }) {
  const s = useSession();
  const [to, setTo] = useState("");
  const [state, setState] = useState<{ kind: "idle" | "busy" | "ok" | "error"; msg?: string }>({ kind: "idle" });
  useEffect(() => {
    if (!to && s.me)
      void api
        .callOptional("user.query", [["username", "=", s.me.pw_name]], { select: ["email"] })
        .then((r) => setTo((r as { email?: string }[])?.[0]?.email ?? ""))
        .catch(() => {});
  }, [s.me, to]);
  const send = async (e: FormEvent) => {
    e.preventDefault();
    setState({ kind: "busy" });
    try {
      await api.call("mail.send", { subject: "Gatehouse test message", text: "This is a test message from Gatehouse: outgoing mail works.", to: [to.trim()] }, override() as never);
      setState({ kind: "ok" });
    } catch (err) {
      setState({ kind: "error", msg: err instanceof RpcError ? err.message : String(err) });
    }
  };
  return (
    <section className="card section-card" aria-labelledby="mail-test-h">
      <h2 id="mail-test-h">Send test email</h2>
      <form onSubmit={send} data-testid="mail-test-form">
        <p className="hint">Uses the settings above as they are in the form, saved or not.</p>
        {state.kind === "ok" && (
          <p className="alert ok" role="status">
            The server accepted the message for {to}.
          </p>
        )}
        {state.kind === "error" && (
          <p className="alert error" role="alert" data-testid="mail-test-error">
            {state.msg}
          </p>
        )}
        <div className="row">
          <TextField label="Send to" name="to" type="email" value={to} onValue={setTo} errors={{}} />
          <button type="submit" disabled={!to.trim() || state.kind === "busy"} data-testid="send-test-mail">
            {state.kind === "busy" ? "Sending…" : "Send test email"}
          </button>
        </div>
      </form>
    </section>
  );
}

function MailQueue() {
  const q = useAsync(() => api.call("mail.queue", { limit: 25 }), []);
  return (
    <section className="card section-card" aria-labelledby="mail-queue-h">
      <div className="row spread">
        <h2 id="mail-queue-h">Recent mail</h2>
        <button type="button" onClick={q.reload}>
          Refresh
        </button>
      </div>
      {q.error ? (
        <ErrorBox error={q.error} onRetry={q.reload} />
      ) : !q.data ? (
        <Loading />
      ) : q.data.length === 0 ? (
        <p>No mail has been sent yet.</p>
      ) : (
        <table className="table" data-testid="mail-queue">
          <thead>
            <tr>
              <th scope="col">Queued</th>
              <th scope="col">User</th>
              <th scope="col">Kind</th>
              <th scope="col">State</th>
              <th scope="col">Tries</th>
              <th scope="col">Last error</th>
            </tr>
          </thead>
          <tbody>
            {q.data.map((r) => (
              <tr key={r.id}>
                <td>{fmtDate(r.created_at)}</td>
                <td>{r.username ?? `#${r.user_id}`}</td>
                <td>
                  <Term kind="mailKind" id={r.kind} />
                </td>
                <td>
                  <Term kind="mailState" id={r.state} />
                </td>
                <td>{r.attempts}</td>
                <td>{r.last_error ?? ""}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
