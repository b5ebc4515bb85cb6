// Settings > Directory services (issue 12, seed 003): LDAP servers (add, edit, test with the step
// report, test a login, remove — tried in order), and the LDAP options: user creation, join teams,
// group mappings (directory group DN → teams) and the sync preview.

import { useState } from "react";
import { api, errorText } from "../api";
import { useSession } from "../session";
import { FormDialog, useSubmit } from "../forms";
import { CheckField, Dialog, ErrorBox, ErrorSummary, SelectField, Term, TextArea, TextField, YesNo, useAsync, useToast } from "../ui";
import type { Result } from "../api-types";
import { ListPage } from "./ListPage";

type Server = Extract<Result<"ldap.server.get_instance">, { id: number }>;
type TestReport = Result<"ldap.server.test">;
type LoginReport = Result<"ldap.server.test_login">;
type Config = Result<"ldap.config">;
type SyncReport = Result<"ldap.sync">;

export function DirectoryPage() {
  const s = useSession();
  const canWrite = s.can("DIRECTORY_SERVICE_WRITE") && s.has("ldap.server.create");
  return (
    <section className="page" aria-labelledby="dir-h">
      <div className="page-head">
        <h1 id="dir-h">Directory services</h1>
      </div>
      <p className="hint">Users not known here sign in with their LDAP or Active Directory password. Servers are tried in order; TLS is always used.</p>
      <ServersSection canWrite={canWrite} />
      <OptionsSection canWrite={canWrite} />
    </section>
  );
}

function ServersSection({ canWrite }: { canWrite: boolean }) {
  const toast = useToast();
  const [tick, setTick] = useState(0);
  const [report, setReport] = useState<{ server: Server; report: TestReport | null; error: unknown } | null>(null);
  const [probing, setProbing] = useState(false);
  const list = useAsync(() => api.query("ldap.server.query", [], { order_by: ["position", "id"] }) as Promise<Server[]>, [tick]);
  const runTest = async (server: Server) => {
    setReport({ server, report: null, error: null });
    try {
      setReport({ server, report: await api.call("ldap.server.test", { id: server.id }), error: null });
    } catch (error) {
      setReport({ server, report: null, error });
    }
  };
  return (
    <>
      <ListPage<Server>
        id="ldap-servers"
        level={2}
        title="LDAP servers"
        caption="LDAP servers, in the order they are tried"
        testid="ldap-servers"
        canWrite={canWrite}
        headActions={
          <button type="button" onClick={() => setProbing(true)} data-testid="ldap-test-login" disabled={!list.data?.length}>
            Test a login
          </button>
        }
        add={{ label: "Add server", testid: "add-ldap-server" }}
        rows={list.data}
        loading={list.loading}
        error={list.error}
        onRetry={list.reload}
        rowKey={(sv) => sv.id}
        name={(sv) => sv.hostname}
        columns={[
          { key: "position", label: "Order", className: "num", render: (sv) => sv.position },
          { key: "hostname", label: "Hostname", always: true, render: (sv) => <strong>{sv.hostname}</strong> },
          { key: "domain", label: "Domain", render: (sv) => sv.domain },
          { key: "security", label: "Security", render: (sv) => <Term kind="ldapSecurity" id={sv.security} /> },
          { key: "bind", label: "Bind", render: (sv) => (sv.bind_dn ? `Indirect (${sv.bind_dn}${sv.bind_password_set ? "" : ", anonymous search"})` : "Direct") },
          { key: "verify", label: "Verify SSL", render: (sv) => <YesNo value={sv.verify_ssl} /> },
        ]}
        empty="No LDAP server is configured: only local accounts can sign in."
        extraActions={(sv) => [canWrite && { label: "Test", onSelect: () => void runTest(sv) }]}
        editor={(server, close) => (
          <ServerDialog
            server={server}
            onClose={close}
            onSaved={(h) => {
              toast(`LDAP server ${h} saved.`);
              close();
              setTick((t) => t + 1);
            }}
          />
        )}
        remove={{
          verb: "Remove",
          title: (sv) => `Remove LDAP server ${sv.hostname}?`,
          body: <p>Its users can no longer sign in unless another server knows them.</p>,
          run: async (sv) => {
            await api.call("ldap.server.delete", sv.id);
            toast(`LDAP server ${sv.hostname} removed.`);
            setTick((t) => t + 1);
          },
        }}
      />
      {report && (
        <Dialog title={`Test of ${report.server.hostname}`} onClose={() => setReport(null)} testid="ldap-test-report">
          <StepReport report={report.report} error={report.error} />
        </Dialog>
      )}
      {probing && <TestLoginDialog onClose={() => setProbing(false)} />}
    </>
  );
}

export function StepReport({ report, error }: { report: TestReport | null; error: unknown }) {
  if (error) return <ErrorBox error={error} />;
  if (!report) return <p role="status">Testing…</p>;
  return (
    <div>
      <p role="status" data-testid="ldap-test-result">
        <strong>{report.ok ? "All steps succeeded." : "A step failed."}</strong>
      </p>
      <ol className="steps">
        {report.steps.map((st) => (
          <li key={st.step} data-step={st.step} className={st.ok ? "ok" : "failed"}>
            <strong>
              {st.step}: {st.ok ? "OK" : "failed"}
            </strong>{" "}
            — {st.message}
          </li>
        ))}
      </ol>
    </div>
  );
}

function ServerDialog({ server, onClose, onSaved }: { server: Server | null; onClose: () => void; onSaved: (hostname: string) => void }) {
  const [f, setF] = useState({
    hostname: server?.hostname ?? "",
    domain: server?.domain ?? "",
    group_domain: server && server.group_domain !== server.domain ? server.group_domain : "",
    verify_ssl: server?.verify_ssl ?? false,
    user_id_field: server?.user_id_field ?? "uid",
    group_id_field: server?.group_id_field ?? "cn",
    bind_dn: server?.bind_dn ?? "",
    bind_password: "",
    realm: server?.realm ?? "",
    kdc: server?.kdc ?? "",
    security: server?.security ?? "LDAPS",
    nested_groups: server?.nested_groups ?? false,
    position: String(server?.position ?? ""),
    connect_timeout: String(server?.connect_timeout ?? 5),
    timeout: String(server?.timeout ?? 10),
  });
  const [clearPassword, setClearPassword] = useState(false);
  const [report, setReport] = useState<{ report: TestReport | null; error: unknown } | null>(null);
  const set = (k: keyof typeof f) => (v: string | boolean) => setF({ ...f, [k]: v });
  const { errs, busy, onSubmit } = useSubmit(Object.keys(f));
  const body = () => {
    const out: Record<string, unknown> = {
      ...f,
      connect_timeout: Number(f.connect_timeout),
      timeout: Number(f.timeout),
      security: f.security as "LDAPS" | "STARTTLS",
    };
    if (f.position === "") delete out.position;
    else out.position = Number(f.position);
    // Editing: an empty password field keeps the stored one unless asked to clear it.
    if (server && !f.bind_password && !clearPassword) delete out.bind_password;
    return out;
  };
  const submit = onSubmit(async () => {
    if (server) await api.call("ldap.server.update", server.id, body() as never);
    else await api.call("ldap.server.create", body() as never);
    onSaved(f.hostname);
  });
  const test = async () => {
    setReport({ report: null, error: null });
    try {
      setReport({ report: await api.call("ldap.server.test", { ...(server ? { id: server.id } : {}), ...body() } as never), error: null });
    } catch (error) {
      setReport({ report: null, error });
    }
  };
  const E = errs.fields;
  return (
    <FormDialog title={server ? `Edit LDAP server ${server.hostname}` : "Add LDAP server"} onClose={onClose} onSubmit={submit} errs={errs} busy={busy} wide testid="ldap-server-dialog">
      <TextField label="Hostname" name="hostname" required value={f.hostname} onValue={set("hostname")} errors={E} hint="Host name or IP address with the port, e.g. ldap.example.com:636." />
      <TextField label="Domain" name="domain" required value={f.domain} onValue={set("domain")} errors={E} hint="Base DN of users, e.g. dc=mycorp,dc=com." />
      <TextField label="Group domain" name="group_domain" value={f.group_domain} onValue={set("group_domain")} errors={E} hint="Where groups are searched (default: the domain)." />
      <SelectField label="Security" name="security" value={f.security} onValue={set("security")} errors={E}>
        <option value="LDAPS">LDAPS (TLS from the start, port 636)</option>
        <option value="STARTTLS">StartTLS (port 389, then TLS)</option>
      </SelectField>
      <CheckField
        label="Verify SSL (the certificate must chain to the system roots or a registered certificate authority)"
        name="verify_ssl"
        checked={f.verify_ssl}
        onValue={set("verify_ssl")}
        errors={E}
      />
      <TextField label="User ID field" name="user_id_field" value={f.user_id_field} onValue={set("user_id_field")} errors={E} />
      <TextField label="Group ID field" name="group_id_field" value={f.group_id_field} onValue={set("group_id_field")} errors={E} />
      <TextField
        label="Bind DN"
        name="bind_dn"
        value={f.bind_dn}
        onValue={set("bind_dn")}
        errors={E}
        hint="Empty: direct bind (users bind as <user ID field>=<name>,<domain>). Set: indirect bind (search, then bind)."
      />
      <TextField
        label="Bind password"
        name="bind_password"
        type="password"
        autoComplete="new-password"
        value={f.bind_password}
        onValue={set("bind_password")}
        errors={E}
        hint={server?.bind_password_set ? "A password is stored; leave empty to keep it." : "Empty with a bind DN: users are searched anonymously."}
      />
      {server?.bind_password_set && <CheckField label="Remove the stored bind password" name="clear_password" checked={clearPassword} onValue={setClearPassword} errors={E} />}
      <CheckField label="Follow nested groups" name="nested_groups" checked={f.nested_groups} onValue={set("nested_groups")} errors={E} />
      <TextField label="Realm" name="realm" value={f.realm} onValue={set("realm")} errors={E} hint="Stored and shown only." />
      <TextField label="KDC" name="kdc" value={f.kdc} onValue={set("kdc")} errors={E} hint="Stored and shown only." />
      <TextField label="Order" name="position" inputMode="numeric" value={f.position} onValue={set("position")} errors={E} hint="Lower first; empty: last." />
      <TextField label="Connect timeout (s)" name="connect_timeout" inputMode="numeric" value={f.connect_timeout} onValue={set("connect_timeout")} errors={E} />
      <TextField label="Operation timeout (s)" name="timeout" inputMode="numeric" value={f.timeout} onValue={set("timeout")} errors={E} />
      <p>
        <button type="button" onClick={() => void test()} data-testid="ldap-test-settings">
          Test these settings
        </button>
      </p>
      {report && <StepReport report={report.report} error={report.error} />}
    </FormDialog>
  );
}

function TestLoginDialog({ onClose }: { onClose: () => void }) {
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [result, setResult] = useState<LoginReport | null>(null);
  const { errs, busy, onSubmit } = useSubmit(["username", "password"]);
  const submit = onSubmit(async () => setResult(await api.call("ldap.server.test_login", username, password)));
  return (
    <FormDialog title="Test a directory login" onClose={onClose} onSubmit={submit} errs={errs} busy={busy} wide testid="ldap-login-dialog" submitLabel="Test">
      <p className="hint">Shows what a real login would do. Nothing is created or changed.</p>
      <TextField label="Username" name="username" required value={username} onValue={setUsername} errors={errs.fields} autoComplete="off" />
      <TextField label="Password" name="password" type="password" required value={password} onValue={setPassword} errors={errs.fields} autoComplete="off" />
      {result && (
        <dl className="report" data-testid="ldap-login-report">
          <dt>Result</dt>
          <dd>{result.ok ? "The directory accepted the credentials" : `Refused: ${result.reason}`}</dd>
          {result.ok && result.reason && (
            <>
              <dt>Note</dt>
              <dd>{result.reason}</dd>
            </>
          )}
          <dt>Server</dt>
          <dd>{result.server ?? "—"}</dd>
          <dt>DN</dt>
          <dd>
            <code>{result.dn ?? "—"}</code>
          </dd>
          <dt>Groups</dt>
          <dd>
            {result.groups.length
              ? result.groups.map((g) => (
                  <code key={g} className="block">
                    {g}
                  </code>
                ))
              : "—"}
          </dd>
          <dt>Local account</dt>
          <dd>{result.local_user ?? (result.would_create ? `would be created${result.uid !== null ? ` (uid ${result.uid})` : " (uid allocated)"}` : "none")}</dd>
          <dt>Roles</dt>
          <dd>{result.roles.join(", ") || "—"}</dd>
          <dt>Teams</dt>
          <dd>{result.teams.map((t) => t.name).join(", ") || "—"}</dd>
        </dl>
      )}
    </FormDialog>
  );
}

function OptionsSection({ canWrite }: { canWrite: boolean }) {
  const toast = useToast();
  const cfg = useAsync(() => api.call("ldap.config"), []);
  const teams = useAsync(() => (api.callOptional("team.query", [], { order_by: ["name"] }) as Promise<{ id: number; name: string }[]>).catch(() => []), []);
  const [sync, setSync] = useState<{ report: SyncReport | null; error: unknown } | null>(null);
  if (cfg.error) return <ErrorBox error={cfg.error} onRetry={cfg.reload} />;
  if (!cfg.data) return null;
  const runSync = async (dryRun: boolean) => {
    setSync({ report: null, error: null });
    try {
      setSync({ report: await api.call("ldap.sync", dryRun), error: null });
      if (!dryRun) toast("Team mappings applied.");
    } catch (error) {
      setSync({ report: null, error });
    }
  };
  const teamName = (id: number) => teams.data?.find((t) => t.id === id)?.name ?? `team ${id}`;
  return (
    <section className="card" aria-labelledby="ldap-options-h">
      <h2 id="ldap-options-h">LDAP options</h2>
      <OptionsForm key={JSON.stringify(cfg.data)} config={cfg.data} canWrite={canWrite} teams={teams.data ?? []} onSaved={(c) => (cfg.setData(c), toast("LDAP options saved."))} />
      {canWrite && (
        <div>
          <h3>Apply the mappings now</h3>
          <p className="hint">
            At every login a directory user's mapped teams are added and memberships a mapping made are removed. Sync does it for every known directory user now (it needs a server with a bind DN).
          </p>
          <span className="row">
            <button type="button" onClick={() => void runSync(true)} data-testid="ldap-sync-preview">
              Preview sync
            </button>
            <button type="button" onClick={() => void runSync(false)} data-testid="ldap-sync-apply">
              Apply sync
            </button>
          </span>
          {sync?.error ? (
            <p className="field-error" role="alert">
              {errorText(sync.error)}
            </p>
          ) : null}
          {sync?.report && (
            <div data-testid="ldap-sync-report" role="status">
              <p>
                {sync.report.dry_run ? "Preview" : "Applied"}: {sync.report.users} directory users, {sync.report.changes.length} with changes.
              </p>
              <ul>
                {sync.report.changes.map((c) => (
                  <li key={c.username}>
                    <strong>{c.username}</strong>
                    {c.add.length > 0 && <> — add {c.add.map(teamName).join(", ")}</>}
                    {c.remove.length > 0 && <> — remove {c.remove.map(teamName).join(", ")}</>}
                    {c.error && <> — {c.error}</>}
                  </li>
                ))}
              </ul>
            </div>
          )}
        </div>
      )}
    </section>
  );
}

function OptionsForm({ config, canWrite, teams, onSaved }: { config: Config; canWrite: boolean; teams: { id: number; name: string }[]; onSaved: (c: Config) => void }) {
  const [create, setCreate] = useState(config.allow_user_creation);
  const [join, setJoin] = useState(config.join_teams.join(", "));
  const [mappings, setMappings] = useState(config.team_mappings.map((m) => `${m.group_dn} = ${m.team_ids.join(", ")}`).join("\n"));
  const { errs, busy, onSubmit } = useSubmit(["allow_user_creation", "join_teams", "team_mappings"]);
  const ids = (text: string) =>
    text
      .split(/[,\s]+/)
      .filter(Boolean)
      .map(Number);
  const submit = onSubmit(async () => {
    // One mapping a line: "<group DN> = <team ids>"; the DN's own "=" signs are before the last " = ".
    const team_mappings = mappings
      .split("\n")
      .map((l) => l.trim())
      .filter(Boolean)
      .map((l) => {
        const at = l.lastIndexOf(" = ");
        return at < 0 ? { group_dn: l, team_ids: [] } : { group_dn: l.slice(0, at).trim(), team_ids: ids(l.slice(at + 3)) };
      });
    onSaved(await api.call("ldap.update", { allow_user_creation: create, join_teams: ids(join), team_mappings }));
  });
  const E = errs.fields;
  return (
    <form onSubmit={submit} noValidate data-testid="ldap-options">
      <ErrorSummary general={errs.general} summaryRef={errs.summaryRef} />
      <fieldset disabled={!canWrite}>
        <CheckField label="Allow LDAP user creation (a first login makes a local record)" name="allow_user_creation" checked={create} onValue={setCreate} errors={E} />
        <TextField
          label="Join teams"
          name="join_teams"
          value={join}
          onValue={setJoin}
          errors={E}
          hint={`Team ids new directory users join. ${teams.length ? `Teams: ${teams.map((t) => `${t.id} ${t.name}`).join(", ")}` : ""}`}
        />
        <TextArea
          label="Group mappings"
          name="team_mappings"
          rows={5}
          value={mappings}
          onValue={setMappings}
          errors={E}
          hint="One a line: the group's full DN, then ' = ' and team ids, e.g. cn=staff,ou=groups,dc=mycorp,dc=com = 3, 4"
        />
        {canWrite && (
          <button type="submit" className="primary" disabled={busy} data-testid="ldap-options-save">
            Save options
          </button>
        )}
      </fieldset>
    </form>
  );
}
