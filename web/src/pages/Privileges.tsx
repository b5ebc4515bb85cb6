// Credentials > Privileges (reference §4, §12; seed 004): table of privileges, and a form with a
// roles picker (the four compound roles first, from privilege.roles), local groups (sent as GIDs),
// directory groups (GIDs or SIDs) and web shell. Built-in privileges keep name and roles.

import { useMemo, useState } from "react";
import { api, quickSearch } from "../api";
import { useSession } from "../session";
import { DataTable, actionsColumn, type Column } from "../table";
import { FormDialog, useSubmit } from "../forms";
import { CheckField, ConfirmDialog, ErrorBox, FieldGroup, FilterInput, RoleList, SearchField, Term, TextField, YesNo, useAsync, useToast } from "../ui";
import { ROLE_LABELS, roleName } from "../words";
import type { PrivilegeEntry, RoleRow } from "../api-types";

type Privilege = PrivilegeEntry;
type GroupRef = PrivilegeEntry["local_groups"][number];
export type Role = RoleRow;

export function PrivilegesPage() {
  const s = useSession();
  const toast = useToast();
  const canWrite = s.can("PRIVILEGE_WRITE") && s.has("privilege.create");
  const [q, setQ] = useState("");
  const [page, setPage] = useState(0);
  const [sort, setSort] = useState("name");
  const [tick, setTick] = useState(0);
  const [editing, setEditing] = useState<Privilege | "new" | null>(null);
  const [deleting, setDeleting] = useState<Privilege | null>(null);
  const filters = useMemo(() => quickSearch(["name"], q), [q]);
  const data = useAsync(() => api.page("privilege.query", filters, { limit: 50, offset: page * 50, order_by: [sort] }), [filters, page, sort, tick]);
  const groupName = (g: GroupRef) => g.group ?? ("name" in g ? g.name : null) ?? (g.gid !== null ? `gid ${g.gid}` : (g.sid ?? "?"));

  const columns: Column<Privilege>[] = [
    { key: "name", label: "Name", sort: "name", always: true, render: (p) => <strong>{p.name}</strong> },
    { key: "roles", label: "Roles", render: (p) => <RoleList roles={p.roles} /> },
    { key: "local", label: "Local groups", render: (p) => p.local_groups.map(groupName).join(", ") || "—" },
    { key: "ds", label: "Directory groups", render: (p) => p.ds_groups.map(groupName).join(", ") || "—" },
    { key: "web_shell", label: "Web shell", render: (p) => <YesNo value={p.web_shell} /> },
    actionsColumn(
      (p) => p.name,
      (p) => [canWrite && { label: "Edit", onSelect: () => setEditing(p) }, canWrite && !p.builtin_name && { label: "Delete", danger: true, onSelect: () => setDeleting(p) }],
    ),
  ];

  return (
    <section className="page" aria-labelledby="priv-h">
      <div className="page-head">
        <h1 id="priv-h">Privileges</h1>
        {canWrite && (
          <button type="button" className="primary" onClick={() => setEditing("new")} data-testid="add-privilege">
            Add privilege
          </button>
        )}
      </div>
      <p className="hint">A privilege gives its roles to every member of its groups.</p>
      <div className="filters">
        <SearchField id="priv-search" label="Search privileges" value={q} onValue={(v) => (setQ(v), setPage(0))} />
      </div>
      <ErrorBox error={data.error} onRetry={data.reload} />
      <DataTable<Privilege>
        id="privileges"
        caption="Privileges"
        columns={columns}
        rows={data.data?.rows ?? []}
        total={data.data?.total ?? 0}
        rowKey={(p) => p.id}
        page={page}
        pageSize={50}
        onPage={setPage}
        sort={sort}
        onSort={setSort}
        loading={data.loading}
      />
      {editing && (
        <PrivilegeDialog
          privilege={editing === "new" ? null : editing}
          onClose={() => setEditing(null)}
          onSaved={(n) => {
            toast(`Privilege ${n} saved.`);
            setEditing(null);
            setTick((t) => t + 1);
          }}
        />
      )}
      {deleting && (
        <ConfirmDialog
          title={`Delete privilege ${deleting.name}?`}
          confirmLabel="Delete"
          danger
          onClose={() => setDeleting(null)}
          onConfirm={async () => {
            await api.call("privilege.delete", deleting.id);
            toast(`Privilege ${deleting.name} deleted.`);
            setTick((t) => t + 1);
          }}
        >
          <p>Members of its groups lose its roles.</p>
        </ConfirmDialog>
      )}
    </section>
  );
}

/** A role filter matches the role's words or its identifier. */
export function roleMatches(role: string, q: string): boolean {
  const t = q.trim().toLowerCase();
  return !t || role.toLowerCase().includes(t) || roleName(role).toLowerCase().includes(t);
}

export function sortRoles(roles: Role[]): Role[] {
  // The compound (assignable) roles first — builtin=false — then the rest by name.
  return [...roles].sort((a, b) => Number(a.builtin) - Number(b.builtin) || a.name.localeCompare(b.name));
}

function PrivilegeDialog({ privilege, onClose, onSaved }: { privilege: Privilege | null; onClose: () => void; onSaved: (name: string) => void }) {
  const builtin = !!privilege?.builtin_name;
  const [name, setName] = useState(privilege?.name ?? "");
  const [roles, setRoles] = useState<string[]>(privilege?.roles ?? []);
  const [localGids, setLocalGids] = useState<number[]>((privilege?.local_groups ?? []).map((g) => g.gid).filter((g): g is number => g !== null));
  const [dsText, setDsText] = useState((privilege?.ds_groups ?? []).map((g) => g.sid ?? g.gid).join(", "));
  const [webShell, setWebShell] = useState(privilege?.web_shell ?? false);
  const [roleQ, setRoleQ] = useState("");
  const [groupQ, setGroupQ] = useState("");
  const { errs, busy, onSubmit } = useSubmit(["name", "local_groups", "ds_groups", "roles", "web_shell"]);
  const allRoles = useAsync(() => api.query("privilege.roles", [], {}).then(sortRoles), []);
  const groups = useAsync(() => api.query("group.query", [["local", "=", true], ...quickSearch(["name"], groupQ)], { limit: 200, order_by: ["name"] }), [groupQ]);
  const rq = roleQ.trim().toLowerCase();
  const shownRoles = (allRoles.data ?? []).filter((r) => roleMatches(r.name, rq));

  const submit = onSubmit(async () => {
    const ds = dsText
      .split(/[,\s]+/)
      .map((x) => x.trim())
      .filter(Boolean)
      .map((x) => (/^\d+$/.test(x) ? Number(x) : x));
    const body = { name, local_groups: localGids, ds_groups: ds, roles, web_shell: webShell };
    if (privilege) {
      // Built-in privileges keep their name and roles.
      await api.call("privilege.update", privilege.id, builtin ? { local_groups: localGids, ds_groups: ds, web_shell: webShell } : body);
    } else await api.call("privilege.create", body);
    onSaved(name);
  });
  const E = errs.fields;
  return (
    <FormDialog title={privilege ? `Edit privilege ${privilege.name}` : "Add privilege"} onClose={onClose} onSubmit={submit} errs={errs} busy={busy} wide testid="privilege-dialog">
      <TextField label="Name" name="name" required value={name} onValue={setName} errors={E} disabled={builtin} />
      <FieldGroup name="local_groups" legend="Local groups" errors={E}>
        <div className="chips">
          {localGids.map((gid) => (
            <button type="button" key={gid} className="chip" onClick={() => setLocalGids(localGids.filter((g) => g !== gid))} aria-label={`Remove group ${gid}`}>
              {groups.data?.find((g) => g.gid === gid)?.name ?? `gid ${gid}`} ×
            </button>
          ))}
        </div>
        <FilterInput id="pg-q" label="Find local groups" value={groupQ} onValue={setGroupQ} />
        <div className="pick-list">
          {(groups.data ?? [])
            .filter((g) => !localGids.includes(g.gid))
            .slice(0, 50)
            .map((g) => (
              <button type="button" key={g.id} className="link" onClick={() => setLocalGids([...localGids, g.gid])}>
                + {g.name} ({g.gid})
              </button>
            ))}
        </div>
      </FieldGroup>
      <TextField label="Directory service groups" name="ds_groups" value={dsText} onValue={setDsText} errors={E} hint="GIDs or SIDs of LDAP / Active Directory groups, separated by commas." />
      <FieldGroup name="roles" legend="Roles" errors={E} className="roles-picker" disabled={builtin}>
        <FilterInput id="role-q" label="Filter roles" value={roleQ} onValue={setRoleQ} />
        <div className="pick-list roles" role="group" aria-label="Roles">
          {shownRoles.map((r, i) => (
            <label key={r.name} className={`check ${!r.builtin ? "compound" : ""} ${i > 0 && !shownRoles[i - 1].builtin && r.builtin ? "sep" : ""}`}>
              <input type="checkbox" checked={roles.includes(r.name)} onChange={(e) => setRoles(e.target.checked ? [...roles, r.name] : roles.filter((x) => x !== r.name))} />{" "}
              {ROLE_LABELS[r.name] ? <strong title={r.name}>{ROLE_LABELS[r.name]}</strong> : <Term kind="role" id={r.name} />}
              {r.stig === null && <span className="hint"> (not available in STIG mode)</span>}
            </label>
          ))}
        </div>
      </FieldGroup>
      <CheckField label="Web shell access" name="web_shell" checked={webShell} onValue={setWebShell} errors={E} />
    </FormDialog>
  );
}
