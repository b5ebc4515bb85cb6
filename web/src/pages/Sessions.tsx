// Sessions (reference §7.5): who is signed in, from where, how; terminate one or all others.

import { useEffect, useState } from "react";
import { api } from "../api";
import { useSession } from "../session";
import { DataTable, actionsColumn, type Column } from "../table";
import { credentialText } from "../words";
import { ConfirmDialog, ErrorBox, fmtDate, useAsync, useToast } from "../ui";
import type { SessionEntry } from "../api-types";

type SessionRow = SessionEntry;

export function SessionsPage() {
  return (
    <section className="page" aria-labelledby="sess-h">
      <div className="page-head">
        <h1 id="sess-h">Sessions</h1>
      </div>
      <SessionsPanel mine={false} />
    </section>
  );
}

export function SessionsPanel({ mine }: { mine: boolean }) {
  const s = useSession();
  const toast = useToast();
  const self = s.me?.pw_name;
  const canWrite = s.can("AUTH_SESSIONS_WRITE");
  const [tick, setTick] = useState(0);
  const [confirm, setConfirm] = useState<SessionRow | "others" | null>(null);
  const data = useAsync(async () => {
    const rows = await api.query("auth.sessions", [], { order_by: ["-created_at"] }).catch(() => api.query("auth.sessions"));
    return mine ? rows.filter((r) => r.credentials_data?.username === self) : rows;
  }, [tick, mine, self]);
  useEffect(() => {
    const off = api.subscribe("auth.sessions", () => setTick((t) => t + 1));
    const timer = setInterval(() => setTick((t) => t + 1), 15_000);
    return () => {
      off();
      clearInterval(timer);
    };
  }, []);

  const columns: Column<SessionRow>[] = [
    {
      key: "user",
      label: "User",
      always: true,
      render: (r) => (
        <>
          <strong>{r.credentials_data?.username ?? "—"}</strong>
          {r.current && <span className="badge">This session</span>}
        </>
      ),
    },
    {
      key: "credentials",
      label: "Signed in with",
      render: (r) => <span title={r.credentials}>{credentialText(r.credentials, r.credentials_data?.api_key?.name, r.credentials_data?.parent?.credentials)}</span>,
    },
    { key: "origin", label: "From", render: (r) => <code>{r.origin}</code> },
    { key: "created_at", label: "Since", render: (r) => fmtDate(r.created_at ?? r.credentials_data?.login_at) },
    { key: "secure", label: "Secure transport", hidden: true, render: (r) => (r.secure_transport ? "Yes" : "No") },
    actionsColumn(
      (r) => `session of ${r.credentials_data?.username ?? r.id}`,
      (r) => [canWrite && !r.current && !r.internal && { label: "Terminate", danger: true, onSelect: () => setConfirm(r) }],
    ),
  ];
  return (
    <div data-testid={mine ? "my-sessions" : "sessions"}>
      <div className="filters">
        <button type="button" onClick={() => setTick((t) => t + 1)}>
          Refresh
        </button>
        {canWrite && !mine && (
          <button type="button" className="danger" onClick={() => setConfirm("others")} data-testid="terminate-others">
            Terminate all other sessions
          </button>
        )}
      </div>
      <ErrorBox error={data.error} onRetry={data.reload} />
      <DataTable<SessionRow> id={mine ? "mysessions" : "sessions"} caption="Sessions" columns={columns} rows={data.data ?? []} rowKey={(r) => r.id} loading={data.loading} empty="No sessions." />
      {confirm && (
        <ConfirmDialog
          title={confirm === "others" ? "Terminate all other sessions?" : `Terminate the session of ${confirm.credentials_data?.username}?`}
          confirmLabel="Terminate"
          danger
          onClose={() => setConfirm(null)}
          onConfirm={async () => {
            if (confirm === "others") {
              await api.call("auth.terminate_other_sessions");
              toast("Other sessions terminated.");
            } else {
              await api.call("auth.terminate_session", confirm.id);
              toast("Session terminated.");
            }
            setTick((t) => t + 1);
          }}
        >
          <p>{confirm === "others" ? "Everyone else is signed out at once, including other sessions of your own." : "That client is signed out at once."}</p>
        </ConfirmDialog>
      )}
    </div>
  );
}
