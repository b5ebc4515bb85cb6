// Fleet > Systems (issue 11 point 8): the managed systems with a status dot (reachable, version,
// latency, last error), add (the server tests the connection first and says why it failed; "save
// anyway" keeps it), edit (a blank key keeps the stored one), check now, remove. Keys are never
// shown: the server never returns them.

import { useEffect, useState } from "react";
import { api } from "../api";
import { useSession } from "../session";
import { FormDialog, useSubmit } from "../forms";
import { CheckField, SelectField, TextField, fmtDate, useAsync, useToast } from "../ui";
import { ListPage } from "./ListPage";

export interface SystemStatus {
  reachable: boolean;
  version: string | null;
  latency_ms: number | null;
  error: string | null;
  error_code: string | null;
  checked_at: unknown;
}

export interface FleetSystem {
  id: number;
  name: string;
  url: string;
  username: string;
  read_api_key: string | null;
  verify_ssl: boolean;
  ca: number | null;
  groups: number[];
  access: "NONE" | "READ" | "READ_WRITE";
  status: SystemStatus;
}

/** A coloured dot with the status in words beside it (colour is never the only signal). */
export function StatusDot({ status }: { status: SystemStatus }) {
  const state = status.reachable ? "up" : status.checked_at ? "down" : "unknown";
  const words = status.reachable
    ? `Reachable${status.latency_ms === null ? "" : `, ${Math.round(status.latency_ms)} ms`}`
    : (status.error ?? (state === "unknown" ? "Not checked yet" : "Unreachable"));
  return (
    <span className={`status-dot ${state}`} data-testid="system-status" data-state={state}>
      <span className="dot" aria-hidden="true">
        ●
      </span>{" "}
      {words}
    </span>
  );
}

export async function listSystems(): Promise<FleetSystem[]> {
  return (await api.callOptional("fleet.system.query", [], { order_by: ["name"] })) as FleetSystem[];
}

export function SystemsPage() {
  const s = useSession();
  const toast = useToast();
  const canWrite = s.can("FLEET_WRITE") && s.has("fleet.system.create");
  const [tick, setTick] = useState(0);
  const list = useAsync(listSystems, [tick]);
  // Status dots stay current: the poller records changes; reload now and then.
  useEffect(() => {
    const t = setInterval(() => setTick((n) => n + 1), 15_000);
    return () => clearInterval(t);
  }, []);
  const check = async (sys: FleetSystem) => {
    const st = (await api.callOptional("fleet.system.status", sys.id)) as SystemStatus;
    toast(`${sys.name}: ${st.reachable ? "reachable" : (st.error ?? "unreachable")}`);
    setTick((n) => n + 1);
  };
  return (
    <ListPage<FleetSystem>
      id="systems"
      title="Systems"
      caption="Managed systems"
      testid="systems-table"
      rowTestid={(sys) => `system-row-${sys.name}`}
      hint="Other Gatehouse servers and compatible appliances managed from here. Users reach them through the proxy with the access their teams and grants give them."
      canWrite={canWrite}
      add={{ label: "Add system", testid: "add-system" }}
      rows={list.data}
      loading={list.loading}
      error={list.error}
      onRetry={list.reload}
      rowKey={(sys) => sys.id}
      name={(sys) => sys.name}
      columns={[
        { key: "name", label: "Name", always: true, render: (sys) => <strong>{sys.name}</strong> },
        { key: "status", label: "Status", render: (sys) => <StatusDot status={sys.status} /> },
        { key: "version", label: "Version", render: (sys) => sys.status.version ?? "—" },
        { key: "url", label: "URL", render: (sys) => <code className="wrap">{sys.url}</code> },
        { key: "checked", label: "Last checked", render: (sys) => (sys.status.checked_at ? fmtDate(sys.status.checked_at) : "—") },
      ]}
      empty="No system is registered."
      extraActions={(sys) => [{ label: "Check now", onSelect: () => void check(sys) }]}
      editor={(system, close) => (
        <SystemDialog
          system={system}
          onClose={close}
          onSaved={(name, added) => {
            toast(`System ${name} ${added ? "added" : "saved"}.`);
            close();
            setTick((n) => n + 1);
          }}
        />
      )}
      remove={{
        verb: "Remove",
        title: (sys) => `Remove system ${sys.name}?`,
        body: <p>Every grant on it (users' and teams') is removed with it.</p>,
        run: async (sys) => {
          await api.callOptional("fleet.system.delete", sys.id);
          toast(`System ${sys.name} removed.`);
          setTick((n) => n + 1);
        },
      }}
    />
  );
}

const FIELDS = ["name", "url", "api_key", "read_api_key", "username", "verify_ssl", "ca", "force"];

function SystemDialog({ system, onClose, onSaved }: { system: FleetSystem | null; onClose: () => void; onSaved: (name: string, added: boolean) => void }) {
  const s = useSession();
  const [name, setName] = useState(system?.name ?? "");
  const [url, setUrl] = useState(system?.url ?? "wss://");
  const [apiKey, setApiKey] = useState("");
  const [readKey, setReadKey] = useState("");
  const [username, setUsername] = useState(system?.username ?? "");
  const [verify, setVerify] = useState(system?.verify_ssl ?? true);
  const [ca, setCa] = useState(system?.ca === null || system?.ca === undefined ? "" : String(system.ca));
  const [force, setForce] = useState(false);
  const cas = useAsync(
    async () => (s.has("certificateauthority.query") ? ((await api.callOptional("certificateauthority.query", [], { order_by: ["name"] })) as { id: number; name: string }[]) : []),
    [],
  );
  const { errs, busy, onSubmit } = useSubmit(FIELDS);
  const submit = onSubmit(async () => {
    const data: Record<string, unknown> = { name, url, username, verify_ssl: verify, ca: ca === "" ? null : Number(ca), force };
    if (apiKey || !system) data.api_key = apiKey;
    if (readKey) data.read_api_key = readKey;
    if (system) await api.callOptional("fleet.system.update", system.id, data);
    else await api.callOptional("fleet.system.create", data);
    onSaved(name, !system);
  });
  return (
    <FormDialog
      title={system ? `Edit system ${system.name}` : "Add system"}
      onClose={onClose}
      onSubmit={submit}
      errs={errs}
      busy={busy}
      wide
      testid="system-dialog"
      submitLabel={busy ? "Testing connection…" : system ? "Test and save" : "Test and add"}
      submitTestid="system-save"
    >
      <TextField label="Name" name="name" required value={name} onValue={setName} errors={errs.fields} />
      <TextField label="URL" name="url" required value={url} onValue={setUrl} errors={errs.fields} hint="wss://host[:port]/api/current (plain ws:// only to this machine)" />
      <TextField
        label={system ? "API key (blank: keep the stored one)" : "API key"}
        name="api_key"
        type="password"
        autoComplete="off"
        required={!system}
        value={apiKey}
        onValue={setApiKey}
        errors={errs.fields}
      />
      <TextField
        label="Read-only API key (optional)"
        name="read_api_key"
        type="password"
        autoComplete="off"
        value={readKey}
        onValue={setReadKey}
        errors={errs.fields}
        hint={system?.read_api_key ? "A read-only key is stored; type one to replace it." : "Users with read access call the system with this key, so the system redacts its own answers."}
      />
      <TextField
        label="Key owner on the system (optional)"
        name="username"
        value={username}
        onValue={setUsername}
        errors={errs.fields}
        hint="With it the connection logs in by SCRAM: the key never crosses the wire."
      />
      <CheckField label="Verify the system's TLS certificate" name="verify_ssl" checked={verify} onValue={setVerify} errors={errs.fields} />
      <SelectField label="Certificate authority" name="ca" value={ca} onValue={setCa} errors={errs.fields} hint="For systems whose certificate a custom CA signed (Certificate authorities).">
        <option value="">System root certificates</option>
        {(cas.data ?? []).map((c) => (
          <option key={c.id} value={String(c.id)}>
            {c.name}
          </option>
        ))}
      </SelectField>
      <CheckField label="Save even if the connection test fails" name="force" checked={force} onValue={setForce} errors={errs.fields} />
    </FormDialog>
  );
}
