// Effective access (issue 11 points 6 and 8): per user (every system) or per system (every
// user), each pair with its access and the explanation from fleet.access.explain — the deciding
// level and grant and every grant it shadowed. The whole matrix is exported as a job (CSV/JSON)
// and fetched once from the server.

import { useState } from "react";
import { setSearch, useLocation } from "../router";
import { useSession } from "../session";
import { ErrorBox, Loading, SelectField, useAsync } from "../ui";
import { errorText } from "../api";
import { ExplanationText, accessLabel, fleetCall, mapLimited, useFleetNames, type Explanation } from "./FleetAccessShared";

/** At most this many pairs are explained on one screen (one call each). */
const MAX_ROWS = 200;

function ExplainRow({ ex, first }: { ex: Explanation; first: "user" | "system" }) {
  return (
    <tr data-testid="access-row" data-access={ex.access}>
      <td>{first === "user" ? ex.system.name : ex.user.username}</td>
      <td>
        <span className={`badge ${ex.access === "READ_WRITE" ? "ok" : ex.access === "READ" ? "" : "muted"}`}>{accessLabel(ex.access)}</span>
      </td>
      <td>{ex.level ?? "—"}</td>
      <td>
        <ExplanationText ex={ex} />
      </td>
    </tr>
  );
}

export function EffectiveAccessPage() {
  const s = useSession();
  const { search } = useLocation();
  const names = useFleetNames();
  const user = search.get("user") ?? "";
  const system = search.get("system") ?? "";
  const rows = useAsync(async () => {
    const n = names.data;
    if (!n || (!user && !system)) return [] as Explanation[];
    const pairs: [number, number][] = user ? n.systems.slice(0, MAX_ROWS).map((x) => [Number(user), x.id]) : n.users.slice(0, MAX_ROWS).map((u) => [u.id, Number(system)]);
    return mapLimited(pairs, 8, ([u, sys]) => fleetCall<Explanation>("fleet.access.explain", u, sys));
  }, [names.data, user, system]);
  const [exporting, setExporting] = useState<string | null>(null);
  const exportMatrix = async (format: "CSV" | "JSON") => {
    setExporting(`Exporting (${format})…`);
    try {
      const r = await fleetCall<{ url: string; pairs: number }>("fleet.access.matrix", { format });
      const a = document.createElement("a");
      a.href = r.url;
      a.download = `fleet-access-matrix.${format.toLowerCase()}`;
      document.body.appendChild(a);
      a.click();
      a.remove();
      setExporting(`Exported ${r.pairs} pairs.`);
    } catch (err) {
      setExporting(errorText(err));
    }
  };
  const n = names.data;
  const visible = (rows.data ?? []).filter((r) => r.access !== "NONE");
  return (
    <section className="page" aria-labelledby="ea-h">
      <div className="page-head">
        <h1 id="ea-h">Effective access</h1>
        {s.has("fleet.access.matrix") && (
          <span className="row-actions">
            <button type="button" onClick={() => void exportMatrix("CSV")} data-testid="export-csv">
              Export CSV
            </button>
            <button type="button" onClick={() => void exportMatrix("JSON")}>
              Export JSON
            </button>
          </span>
        )}
      </div>
      {exporting && (
        <p role="status" className="hint" data-testid="export-status">
          {exporting}
        </p>
      )}
      <p className="hint">
        The first level with a grant for the system decides: the user's own grant on the system, then on its groups, then the teams' grants on the system, then on its groups; within a level the most
        permissive grant wins. Administrators have read/write everywhere.
      </p>
      <ErrorBox error={names.error} onRetry={names.reload} />
      {n && (
        <div className="grid2">
          <SelectField label="User" name="user" value={user} onValue={(v) => setSearch({ user: v, system: null })} errors={{}}>
            <option value="">Choose a user…</option>
            {n.users.map((u) => (
              <option key={u.id} value={u.id}>
                {u.username}
              </option>
            ))}
          </SelectField>
          <SelectField label="System" name="system" value={system} onValue={(v) => setSearch({ system: v, user: null })} errors={{}}>
            <option value="">Choose a system…</option>
            {n.systems.map((x) => (
              <option key={x.id} value={x.id}>
                {x.name}
              </option>
            ))}
          </SelectField>
        </div>
      )}
      {rows.loading && <Loading />}
      <ErrorBox error={rows.error} onRetry={rows.reload} />
      {(user || system) && rows.data && (
        <table className="data" data-testid="access-table">
          <caption>{user ? "Systems this user may reach" : "Users who may reach this system"}</caption>
          <thead>
            <tr>
              <th scope="col">{user ? "System" : "User"}</th>
              <th scope="col">Access</th>
              <th scope="col">Decided at</th>
              <th scope="col">Why</th>
            </tr>
          </thead>
          <tbody>
            {visible.map((ex) => (
              <ExplainRow key={`${ex.user.id}/${ex.system.id}`} ex={ex} first={user ? "user" : "system"} />
            ))}
            {!visible.length && (
              <tr>
                <td colSpan={4}>{user ? "This user has no access to any system." : "No user has access to this system."}</td>
              </tr>
            )}
          </tbody>
        </table>
      )}
    </section>
  );
}
