// Audit log (reference §10): filter by user, event, outcome, time and text; server paging with
// audit.query's "query-filters"/"query-options"; export of the filtered entries as CSV or JSON.

import { useMemo, useState, type ReactNode } from "react";
import { api, searchPattern, type Filter } from "../api";
import { DataTable, useTableState, type Column } from "../table";
import { useSession } from "../session";
import { ErrorBox, Term, downloadText, fmtDate, useAsync, useToast } from "../ui";
import { words } from "../words";
import type { AuditEntry } from "../api-types";

/** The event_data fields the table's summary reads (the rest is shown as JSON). */
interface AuditEventData {
  description?: string;
  method?: string;
  error?: string;
  credentials?: { credentials?: string };
  [field: string]: unknown;
}

type AuditRow = AuditEntry;

function summary(r: AuditRow): ReactNode {
  // event_data's shape depends on the event (the schema says unknown): read the fields shown.
  const d = (r.event_data ?? {}) as AuditEventData;
  // A call is described in the words the server recorded (shown verbatim: it is the record, so
  // data-recorded); its method name, the point for an administrator, is in the tooltip, or in
  // monospace when the call has no description.
  if (r.event === "METHOD_CALL")
    return d.description ? (
      <span title={d.method} data-recorded="">
        {d.description}
      </span>
    ) : d.method ? (
      <code>{d.method}</code>
    ) : (
      ""
    );
  if (r.event === "AUTHENTICATION") {
    const cred = d.credentials?.credentials;
    return (
      <>
        {cred ? <Term kind="credential" id={cred} /> : null}
        {d.error ? ` — ${d.error}` : ""}
      </>
    );
  }
  return "";
}

function when(r: AuditRow): Date {
  return r.timestamp instanceof Date ? r.timestamp : new Date(r.message_timestamp * 1000);
}

async function auditQuery(filters: Filter[], options: Record<string, unknown>) {
  return api.call("audit.query", { services: ["MIDDLEWARE"], "query-filters": filters, "query-options": options });
}

async function auditCount(filters: Filter[]): Promise<number> {
  const r = await auditQuery(filters, { count: true });
  if (typeof r !== "number") throw new Error("audit.query: expected a count");
  return r;
}

/** Entries (no select, get or count in `options`). */
async function auditRows(filters: Filter[], options: Record<string, unknown>): Promise<AuditEntry[]> {
  const r = await auditQuery(filters, options);
  if (!Array.isArray(r)) throw new Error("audit.query: expected a list of entries");
  return r as AuditEntry[];
}

function csvCell(v: unknown): string {
  const s = v === null || v === undefined ? "" : typeof v === "object" ? JSON.stringify(v) : String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function AuditPage() {
  const s = useSession();
  const toast = useToast();
  const [username, setUsername] = useState("");
  const [event, setEvent] = useState("");
  const [success, setSuccess] = useState("");
  const [from, setFrom] = useState("");
  const [to, setTo] = useState("");
  const [text, setText] = useState("");
  const [applied, setApplied] = useState<Filter[]>([]);
  const { page, setPage, pageSize, sort, tableProps } = useTableState({ sort: "-message_timestamp" });
  const [exporting, setExporting] = useState<string | null>(null);
  const [exportErr, setExportErr] = useState<unknown>(null);

  const build = (): Filter[] => {
    const f: Filter[] = [];
    if (username.trim()) f.push(["username", "~", `(?i).*${searchPattern(username.trim())}`]);
    if (event) f.push(["event", "=", event]);
    if (success) f.push(["success", "=", success === "yes"]);
    if (from) f.push(["message_timestamp", ">=", Math.floor(new Date(`${from}T00:00:00`).getTime() / 1000)]);
    if (to) f.push(["message_timestamp", "<=", Math.floor(new Date(`${to}T23:59:59`).getTime() / 1000)]);
    if (text.trim()) f.push(["event_data.description", "~", `(?i).*${searchPattern(text.trim())}`]);
    return f;
  };

  const data = useAsync(async () => {
    const [total, rows] = await Promise.all([auditCount(applied), auditRows(applied, { limit: pageSize, offset: page * pageSize, order_by: [sort] })]);
    return { total, rows };
  }, [applied, page, pageSize, sort]);

  const exportAs = async (fmt: "csv" | "json") => {
    setExporting(fmt);
    setExportErr(null);
    try {
      const all: AuditRow[] = [];
      for (let offset = 0; offset < 100_000; offset += 1000) {
        const chunk = await auditRows(applied, { limit: 1000, offset, order_by: [sort] });
        all.push(...chunk);
        if (chunk.length < 1000) break;
      }
      const stamp = new Date().toISOString().replace(/[:.]/g, "-");
      if (fmt === "json") downloadText(`audit-${stamp}.json`, JSON.stringify(all, null, 2), "application/json");
      else {
        const cols = ["audit_id", "timestamp", "address", "username", "session", "service", "event", "success", "event_data"];
        const body = all.map((r) => cols.map((c) => csvCell(c === "timestamp" ? when(r).toISOString() : r[c as keyof AuditRow])).join(","));
        downloadText(`audit-${stamp}.csv`, [cols.join(","), ...body].join("\n") + "\n", "text/csv");
      }
    } catch (err) {
      setExportErr(err);
    } finally {
      setExporting(null);
    }
  };

  const columns: Column<AuditRow>[] = useMemo(
    () => [
      { key: "time", label: "Time", sort: "message_timestamp", always: true, className: "nowrap", render: (r) => fmtDate(when(r)) },
      { key: "username", label: "User", sort: "username", render: (r) => r.username },
      { key: "event", label: "Event", sort: "event", render: (r) => <Term kind="auditEvent" id={r.event} /> },
      { key: "summary", label: "Details", render: (r) => summary(r) },
      { key: "address", label: "Address", sort: "address", render: (r) => <code>{r.address}</code> },
      { key: "success", label: "Result", sort: "success", render: (r) => (r.success ? <span className="yes">Success</span> : <span className="bad">Failed</span>) },
      { key: "session", label: "Session", hidden: true, render: (r) => <code>{r.session ?? "—"}</code> },
    ],
    [],
  );

  return (
    <section className="page" aria-labelledby="audit-h">
      <div className="page-head">
        <h1 id="audit-h">Audit log</h1>
        <div className="row">
          <button type="button" onClick={() => void exportAs("csv")} disabled={!!exporting} data-testid="export-csv">
            {exporting === "csv" ? "Exporting…" : "Export CSV"}
          </button>
          <button type="button" onClick={() => void exportAs("json")} disabled={!!exporting} data-testid="export-json">
            {exporting === "json" ? "Exporting…" : "Export JSON"}
          </button>
          {s.has("audit.export") && (
            <button
              type="button"
              disabled={!!exporting}
              title="Write a CSV report into the server's data directory"
              onClick={async () => {
                setExporting("server");
                setExportErr(null);
                try {
                  const file = await api.call("audit.export", { export_format: "CSV", services: ["MIDDLEWARE"], "query-filters": applied, "query-options": { order_by: [sort], limit: 10000 } });
                  toast(`Report saved on the server: ${file}`);
                } catch (err) {
                  setExportErr(err);
                } finally {
                  setExporting(null);
                }
              }}
            >
              Save report on server
            </button>
          )}
        </div>
      </div>
      <form
        className="filters wrap"
        onSubmit={(e) => {
          e.preventDefault();
          setPage(0);
          setApplied(build());
        }}
        data-testid="audit-filters"
      >
        <div className="field">
          <label htmlFor="a-user">User</label>
          <input id="a-user" value={username} onChange={(e) => setUsername(e.target.value)} />
        </div>
        <div className="field">
          <label htmlFor="a-event">Event</label>
          <select id="a-event" value={event} onChange={(e) => setEvent(e.target.value)}>
            <option value="">Any</option>
            {["AUTHENTICATION", "LOGOUT", "METHOD_CALL"].map((e) => (
              <option key={e} value={e}>
                {words("auditEvent", e)}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor="a-success">Result</label>
          <select id="a-success" value={success} onChange={(e) => setSuccess(e.target.value)}>
            <option value="">Any</option>
            <option value="yes">Success</option>
            <option value="no">Failed</option>
          </select>
        </div>
        <div className="field">
          <label htmlFor="a-from">From</label>
          <input id="a-from" type="date" value={from} onChange={(e) => setFrom(e.target.value)} />
        </div>
        <div className="field">
          <label htmlFor="a-to">To</label>
          <input id="a-to" type="date" value={to} onChange={(e) => setTo(e.target.value)} />
        </div>
        <div className="field">
          <label htmlFor="a-text">Description contains</label>
          <input id="a-text" value={text} onChange={(e) => setText(e.target.value)} />
        </div>
        <div className="row end">
          <button type="submit" className="primary">
            Filter
          </button>
        </div>
      </form>
      <ErrorBox error={data.error ?? exportErr} onRetry={data.reload} />
      <DataTable<AuditRow>
        id="audit"
        caption="Audit log entries"
        columns={columns}
        rows={data.data?.rows ?? []}
        total={data.data?.total ?? 0}
        rowKey={(r) => r.audit_id}
        {...tableProps}
        loading={data.loading}
        rowLabel={(r) => `${words("auditEvent", r.event)} ${fmtDate(when(r))}`}
        renderDetail={(r) => <pre className="json">{JSON.stringify({ ...r, timestamp: when(r).toISOString() }, null, 2)}</pre>}
        empty="No audit entries match."
      />
    </section>
  );
}
