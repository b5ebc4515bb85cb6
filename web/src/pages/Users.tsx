// Credentials > Users (seed 000, reference §12): server-side paging (`{count: true}` then
// `{limit, offset, order_by}`), sortable columns, a column chooser, the type filter (Built-in /
// Local / Directory Services, built-ins hidden except root), quick search, an advanced search that
// builds query-filters, an expandable detail panel with the account's actions, and live updates
// from `collection_update` events on user.query.

import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { anyOf, api, quickSearch, type Filter } from "../api";
import { Link, navigate, useLocation } from "../router";
import { useSession } from "../session";
import { DataTable, RowMenu, useTableState, type Column, type RowAction } from "../table";
import { Popover } from "../popover";
import { ConfirmDialog, CopyField, Dialog, ErrorBox, RoleList, SearchField, YesNo, fmtDate, useAsync, useToast } from "../ui";
import type { UserEntry } from "../api-types";

export type User = UserEntry;

// Role words live in words.ts; re-exported for the pages that import them from here.
export { ROLE_LABELS, roleName, roleText } from "../words";
import { ROLE_LABELS } from "../words";

/** The account's state in a word and a colour that means something: locked is a warning. */
function UserStatus({ u }: { u: User }) {
  if (u.locked) return <span className="status warn">Locked</span>;
  if (u.password_disabled) return <span className="status muted">No password</span>;
  return <span className="status ok">Active</span>;
}

/** Auxiliary groups by name (the entry holds their ids). */
function AuxGroups({ ids }: { ids: number[] }) {
  const names = useAsync(() => (ids.length ? api.select("group.query", [["id", "in", ids]], ["id", "name"], { order_by: ["name"] }) : Promise.resolve([])), [ids.join(",")]);
  if (!ids.length) return <>None</>;
  if (!names.data) return <>{ids.length} groups…</>;
  return <span data-testid="aux-groups">{names.data.map((g) => g.name).join(", ")}</span>;
}

function userType(u: User): string {
  return u.builtin ? "Built-in" : u.local ? "Local" : "Directory Services";
}

interface Types {
  builtin: boolean;
  local: boolean;
  ds: boolean;
}

/** Reference §12 default: local non-builtin + root, plus directory users. */
export function typeFilter(t: Types): Filter[] {
  const alts: (Filter | Filter[])[] = [];
  if (t.local && t.builtin) alts.push([["local", "=", true]]);
  else if (t.local)
    alts.push([
      ["local", "=", true],
      [
        "OR",
        [
          ["builtin", "=", false],
          ["username", "=", "root"],
        ],
      ],
    ]);
  else if (t.builtin) alts.push([["builtin", "=", true]]);
  if (t.ds) alts.push(["local", "=", false]);
  if (!alts.length) return [["id", "=", -1]];
  return anyOf(alts);
}

// ---------------------------------------------------------------------------------------------
// Advanced search

type PropKind = "text" | "bool" | "number" | "roles";
const PROPS: { key: string; label: string; kind: PropKind; field?: string }[] = [
  { key: "username", label: "Username", kind: "text" },
  { key: "full_name", label: "Full name", kind: "text" },
  { key: "email", label: "Email", kind: "text" },
  { key: "id", label: "ID", kind: "number" },
  { key: "uid", label: "UID", kind: "number" },
  { key: "home", label: "Home directory", kind: "text" },
  { key: "shell", label: "Shell", kind: "text" },
  { key: "group", label: "Primary group", kind: "text", field: "group.bsdgrp_group" },
  { key: "roles", label: "Roles", kind: "roles" },
  { key: "smb", label: "SMB user", kind: "bool" },
  { key: "builtin", label: "Built-in", kind: "bool" },
  { key: "immutable", label: "Immutable", kind: "bool" },
  { key: "password_disabled", label: "Password disabled", kind: "bool" },
  { key: "locked", label: "Locked", kind: "bool" },
  { key: "local", label: "Local", kind: "bool" },
  { key: "ssh_password_enabled", label: "SSH password login", kind: "bool" },
  { key: "twofactor_auth_configured", label: "2FA configured", kind: "bool" },
];
const OPS: Record<PropKind, { op: string; label: string }[]> = {
  text: [
    { op: "contains", label: "contains" },
    { op: "=", label: "is" },
    { op: "!=", label: "is not" },
    { op: "^", label: "starts with" },
    { op: "$", label: "ends with" },
    { op: "~", label: "matches regex" },
  ],
  number: [
    { op: "=", label: "=" },
    { op: "!=", label: "≠" },
    { op: "<", label: "<" },
    { op: "<=", label: "≤" },
    { op: ">", label: ">" },
    { op: ">=", label: "≥" },
  ],
  bool: [{ op: "=", label: "is" }],
  roles: [
    { op: "rin", label: "includes" },
    { op: "rnin", label: "does not include" },
  ],
};

interface Cond {
  prop: string;
  op: string;
  value: string;
}

export function conditionFilter(c: Cond): Filter | null {
  const p = PROPS.find((x) => x.key === c.prop);
  if (!p) return null;
  const field = p.field ?? p.key;
  if (p.kind === "bool") return [field, "=", c.value !== "false"];
  if (p.kind === "number") {
    if (c.value.trim() === "" || Number.isNaN(Number(c.value))) return null;
    return [field, c.op, Number(c.value)];
  }
  if (c.value === "" && p.kind !== "text") return null;
  if (p.kind === "text" && c.op === "contains") return [field, "~", `(?i).*${c.value.replace(/[.+?^${}()|[\]\\*]/g, "\\$&")}`];
  if (p.kind === "text" && (c.op === "=" || c.op === "!=") && c.value === "") return [field, c.op, null];
  return [field, c.op, c.value];
}

function AdvancedSearch({ onApply, initial }: { onApply: (f: Filter[], conds: Cond[], any: boolean) => void; initial: { conds: Cond[]; any: boolean } }) {
  const [conds, setConds] = useState<Cond[]>(initial.conds.length ? initial.conds : [{ prop: "username", op: "contains", value: "" }]);
  const [any, setAny] = useState(initial.any);
  const build = (cs: Cond[], a: boolean): Filter[] => {
    const fs = cs.map(conditionFilter).filter((f): f is Filter => !!f);
    if (!fs.length) return [];
    return a && fs.length > 1 ? [["OR", fs]] : fs;
  };
  const filters = build(conds, any);
  const set = (i: number, patch: Partial<Cond>) => setConds(conds.map((c, j) => (j === i ? { ...c, ...patch } : c)));
  const presets: { label: string; cond: Cond }[] = [
    { label: "SMB users", cond: { prop: "smb", op: "=", value: "true" } },
    { label: "Locked", cond: { prop: "locked", op: "=", value: "true" } },
    { label: "Password disabled", cond: { prop: "password_disabled", op: "=", value: "true" } },
    { label: "Administrators", cond: { prop: "roles", op: "rin", value: "FULL_ADMIN" } },
    { label: "With 2FA", cond: { prop: "twofactor_auth_configured", op: "=", value: "true" } },
  ];
  return (
    <fieldset className="advanced" data-testid="advanced-search">
      <legend>Advanced search</legend>
      <div className="presets" role="group" aria-label="Presets">
        {presets.map((p) => (
          <button
            type="button"
            key={p.label}
            className="chip"
            onClick={() => {
              const next = [...conds.filter((c) => c.value !== "" || PROPS.find((x) => x.key === c.prop)?.kind === "bool"), p.cond];
              setConds(next);
            }}
          >
            + {p.label}
          </button>
        ))}
      </div>
      {conds.map((c, i) => {
        const p = PROPS.find((x) => x.key === c.prop)!;
        return (
          <div className="cond" key={i}>
            <label>
              <span className="sr-only">Property {i + 1}</span>
              <select
                value={c.prop}
                onChange={(e) => {
                  const np = PROPS.find((x) => x.key === e.target.value)!;
                  set(i, { prop: np.key, op: OPS[np.kind][0].op, value: np.kind === "bool" ? "true" : "" });
                }}
              >
                {PROPS.map((x) => (
                  <option key={x.key} value={x.key}>
                    {x.label}
                  </option>
                ))}
              </select>
            </label>
            <label>
              <span className="sr-only">Operator {i + 1}</span>
              <select value={c.op} onChange={(e) => set(i, { op: e.target.value })}>
                {OPS[p.kind].map((o) => (
                  <option key={o.op} value={o.op}>
                    {o.label}
                  </option>
                ))}
              </select>
            </label>
            <label>
              <span className="sr-only">Value {i + 1}</span>
              {p.kind === "bool" ? (
                <select value={c.value} onChange={(e) => set(i, { value: e.target.value })}>
                  <option value="true">Yes</option>
                  <option value="false">No</option>
                </select>
              ) : p.kind === "roles" ? (
                <select value={c.value} onChange={(e) => set(i, { value: e.target.value })}>
                  <option value="">Choose a role</option>
                  {Object.keys(ROLE_LABELS).map((r) => (
                    <option key={r} value={r}>
                      {ROLE_LABELS[r]}
                    </option>
                  ))}
                </select>
              ) : (
                <input value={c.value} type={p.kind === "number" ? "number" : "text"} onChange={(e) => set(i, { value: e.target.value })} />
              )}
            </label>
            <button type="button" className="icon" aria-label={`Remove condition ${i + 1}`} onClick={() => setConds(conds.filter((_, j) => j !== i))}>
              ×
            </button>
          </div>
        );
      })}
      <div className="row">
        <button type="button" onClick={() => setConds([...conds, { prop: "username", op: "contains", value: "" }])}>
          Add condition
        </button>
        <label className="check">
          <input type="checkbox" checked={any} onChange={(e) => setAny(e.target.checked)} /> Match any (instead of all)
        </label>
      </div>
      <div className="query-preview">
        Query filters: <code data-testid="filter-preview">{JSON.stringify(filters)}</code>
      </div>
      <div className="row">
        <button type="button" className="primary" onClick={() => onApply(filters, conds, any)}>
          Search
        </button>
        <button
          type="button"
          onClick={() => {
            setConds([{ prop: "username", op: "contains", value: "" }]);
            onApply([], [], false);
          }}
        >
          Clear
        </button>
      </div>
    </fieldset>
  );
}

// ---------------------------------------------------------------------------------------------
// Type filter and empty states

const TYPE_LABELS = [
  ["local", "Local"],
  ["builtin", "Built-in"],
  ["ds", "Directory Services"],
] as const;

/** Text columns sort ignoring letter case (`:ci`, served by the search indexes; issue 15). */
const CI_SORT = new Set(["username", "full_name", "email", "home", "shell"]);
export function ciOrder(sort: string): string {
  return CI_SORT.has(sort.replace(/^-/, "")) ? `${sort}:ci` : sort;
}

/** Seed 000's "Filter by Type": a dropdown of the three types, any or all selected. */
function TypeFilter({ types, setTypes }: { types: Types; setTypes: (t: Types) => void }) {
  const chosen = TYPE_LABELS.filter(([k]) => types[k]).map(([, l]) => l);
  return (
    <div className="field type-filter-field">
      <span className="label" id="type-filter-label">
        Filter by type
      </span>
      <Popover
        label={
          <>
            {chosen.length ? chosen.join(", ") : "No type"} <span aria-hidden="true">▾</span>
          </>
        }
        ariaLabel={`Filter by type: ${chosen.join(", ") || "none"}`}
        buttonClass="select-like"
        testid="type-filter"
      >
        {() => (
          <div role="group" aria-labelledby="type-filter-label">
            {TYPE_LABELS.map(([k, label]) => (
              <label key={k} className="check">
                <input type="checkbox" checked={types[k]} onChange={(e) => setTypes({ ...types, [k]: e.target.checked })} data-testid={`type-${k}`} /> {label}
              </label>
            ))}
          </div>
        )}
      </Popover>
    </div>
  );
}

/** What an empty Users table says, with the next thing to do. */
function UsersEmpty({ types, searching, canWrite }: { types: Types; searching: boolean; canWrite: boolean }) {
  if (searching) return <>No users match the search. Try other words, or clear the search.</>;
  if (types.ds && !types.local && !types.builtin)
    return <span data-testid="ds-empty">No directory users yet. They appear here once a directory server is set up and its users sign in or are listed.</span>;
  if (!types.local && !types.builtin && !types.ds) return <>Choose at least one type under “Filter by type”.</>;
  return (
    <span>
      No local users yet.{" "}
      {canWrite && (
        <Link to="/users/new" data-testid="empty-add-user">
          Add the first user
        </Link>
      )}
    </span>
  );
}

// ---------------------------------------------------------------------------------------------
// Page

const PREFS_KEY = "gatehouse.users.view";

export function UsersPage() {
  const s = useSession();
  const toast = useToast();
  const { search } = useLocation();
  const saved = useMemo(() => {
    try {
      return JSON.parse(sessionStorage.getItem(PREFS_KEY) ?? "{}");
    } catch {
      return {};
    }
  }, []);
  // Seed 000: Local alone by default; Built-in and Directory Services on demand.
  const [types, setTypes] = useState<Types>(saved.types ?? { builtin: false, local: true, ds: false });
  const [q, setQ] = useState<string>(search.get("q") ?? saved.q ?? "");
  const [debouncedQ, setDebouncedQ] = useState(q);
  const { page, setPage, pageSize, sort, setSort, setExpanded, tableProps } = useTableState({ sort: saved.sort ?? "username", pageSize: saved.pageSize });
  const [adv, setAdv] = useState<{ filters: Filter[]; conds: Cond[]; any: boolean }>({ filters: [], conds: [], any: false });
  const [showAdv, setShowAdv] = useState(false);
  const [rows, setRows] = useState<User[]>([]);
  const [total, setTotal] = useState(0);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<unknown>(null);
  const [tick, setTick] = useState(0);
  const canWrite = s.can("ACCOUNT_WRITE") && s.has("user.create");

  useEffect(() => {
    const t = setTimeout(() => setDebouncedQ(q), 250);
    return () => clearTimeout(t);
  }, [q]);
  useEffect(() => setPage(0), [debouncedQ, types, adv, pageSize]);
  useEffect(() => {
    sessionStorage.setItem(PREFS_KEY, JSON.stringify({ types, q, sort, pageSize }));
  }, [types, q, sort, pageSize]);

  const filters = useMemo(() => [...typeFilter(types), ...quickSearch(["username", "full_name"], debouncedQ), ...adv.filters], [types, debouncedQ, adv]);

  const seq = useRef(0);
  useEffect(() => {
    const mine = ++seq.current;
    setLoading(true);
    api.page("user.query", filters, { limit: pageSize, offset: page * pageSize, order_by: [ciOrder(sort)] }).then(
      (r) => {
        if (mine !== seq.current) return;
        setRows(r.rows);
        setTotal(r.total);
        setError(null);
        setLoading(false);
      },
      (err) => {
        if (mine !== seq.current) return;
        setError(err);
        setLoading(false);
      },
    );
  }, [filters, page, pageSize, sort, tick]);

  // Live updates: patch visible rows in place, refetch for additions/removals.
  const rowsRef = useRef(rows);
  rowsRef.current = rows;
  const refetch = useRef<ReturnType<typeof setTimeout> | null>(null);
  const scheduleReload = useCallback(() => {
    if (refetch.current) clearTimeout(refetch.current);
    refetch.current = setTimeout(() => setTick((t) => t + 1), 200);
  }, []);
  useEffect(() => {
    const off = api.subscribe("user.query", (u) => {
      const id = Number(u.id);
      const visible = rowsRef.current.some((r) => r.id === id);
      if (u.msg === "changed" && visible && u.fields) {
        setRows((rs) => rs.map((r) => (r.id === id ? ({ ...r, ...(u.fields as Partial<User>) } as User) : r)));
      } else {
        if (u.msg === "removed") setExpanded((e) => (e === id ? null : e));
        scheduleReload();
      }
    });
    return () => {
      off();
      if (refetch.current) clearTimeout(refetch.current);
    };
  }, [scheduleReload]);

  const columns: Column<User>[] = [
    { key: "username", label: "Username", sort: "username", always: true, compact: true, render: (u) => <strong>{u.username}</strong> },
    { key: "full_name", label: "Full name", sort: "full_name", compact: true, render: (u) => u.full_name || "—" },
    { key: "uid", label: "UID", sort: "uid", render: (u) => u.uid, className: "num" },
    { key: "type", label: "Type", sort: "builtin", compact: true, render: (u) => userType(u) },
    { key: "roles", label: "Roles", render: (u) => <RoleList roles={u.roles} /> },
    { key: "status", label: "Status", sort: "locked", compact: true, render: (u) => <UserStatus u={u} /> },
    { key: "smb", label: "SMB", sort: "smb", render: (u) => <YesNo value={u.smb} /> },
    { key: "email", label: "Email", sort: "email", hidden: true, render: (u) => u.email ?? "—" },
    { key: "home", label: "Home directory", sort: "home", hidden: true, render: (u) => <code>{u.home}</code> },
    { key: "shell", label: "Shell", sort: "shell", hidden: true, render: (u) => <code>{u.shell}</code> },
    { key: "group", label: "Primary group", hidden: true, render: (u) => u.group?.bsdgrp_group ?? "—" },
    { key: "password_disabled", label: "Password disabled", sort: "password_disabled", hidden: true, render: (u) => <YesNo value={u.password_disabled} /> },
    { key: "ssh", label: "SSH password login", sort: "ssh_password_enabled", hidden: true, render: (u) => <YesNo value={u.ssh_password_enabled} /> },
    { key: "twofactor", label: "2FA", hidden: true, render: (u) => <YesNo value={u.twofactor_auth_configured} /> },
    { key: "api_keys", label: "API keys", hidden: true, render: (u) => u.api_keys?.length ?? 0 },
    { key: "microsoft_account", label: "Microsoft account", hidden: true, render: (u) => <YesNo value={u.microsoft_account} /> },
  ];

  return (
    <section className="page" aria-labelledby="users-h">
      <div className="page-head">
        <h1 id="users-h">Users</h1>
        {canWrite ? (
          <Link to="/users/new" className="button primary" data-testid="add-user">
            Add user
          </Link>
        ) : null}
      </div>
      <div className="filters">
        <SearchField id="user-search" label="Search users" placeholder="Username or full name" value={q} onValue={setQ} data-testid="user-search" />
        <TypeFilter types={types} setTypes={setTypes} />
        <button type="button" aria-expanded={showAdv} onClick={() => setShowAdv(!showAdv)} data-testid="toggle-advanced">
          {showAdv ? "Hide advanced search" : "Advanced search"}
          {adv.filters.length > 0 && ` (${adv.conds.length})`}
        </button>
      </div>
      {showAdv && <AdvancedSearch initial={adv} onApply={(f, conds, any) => setAdv({ filters: f, conds, any })} />}
      <ErrorBox error={error} onRetry={() => setTick((t) => t + 1)} />
      <DataTable<User>
        id="users"
        caption="Users"
        columns={columns}
        rows={rows}
        rowKey={(u) => u.id}
        rowLabel={(u) => u.username}
        total={total}
        {...tableProps}
        onSort={(s2) => {
          setSort(s2);
          setPage(0);
        }}
        loading={loading}
        renderDetail={(u) => <UserDetail user={u} onChanged={() => setTick((t) => t + 1)} toast={toast} />}
        empty={<UsersEmpty types={types} searching={!!debouncedQ || adv.filters.length > 0} canWrite={canWrite} />}
      />
    </section>
  );
}

// ---------------------------------------------------------------------------------------------
// Detail panel

function UserDetail({ user: u, onChanged, toast }: { user: User; onChanged: () => void; toast: (t: string, k?: "ok" | "error") => void }) {
  const s = useSession();
  const canWrite = s.can("ACCOUNT_WRITE");
  const [dialog, setDialog] = useState<null | "delete" | "unset2fa" | "otpw">(null);
  const [deleteGroup, setDeleteGroup] = useState(true);
  const [otpw, setOtpw] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [err, setErr] = useState<unknown>(null);
  const isSelf = s.me?.pw_name === u.username;

  const toggleLock = async () => {
    setBusy(true);
    setErr(null);
    try {
      await api.call("user.update", u.id, { locked: !u.locked });
      toast(`${u.username} ${u.locked ? "unlocked" : "locked"}.`);
      onChanged();
    } catch (e) {
      setErr(e);
    } finally {
      setBusy(false);
    }
  };

  const genOtpw = async () => {
    setErr(null);
    try {
      const pw = await api.call("auth.generate_onetime_password", { username: u.username });
      setOtpw(pw);
      setDialog("otpw");
    } catch (e) {
      setErr(e);
    }
  };

  // Key holders: an account with at least one role, all of which the caller holds (a key carries
  // only roles its owner has, and only someone holding them may grant them).
  const canHoldKey = (u.roles?.length ?? 0) > 0 && (u.roles ?? []).every((r) => s.can(r));
  const moreActions: (RowAction | false)[] = [
    canWrite && s.has("user.delete") && !u.builtin && !u.immutable && !isSelf && { label: "Delete", danger: true, testid: "delete-user", onSelect: () => setDialog("delete") },
    (s.can("API_KEY_READ") || isSelf) && {
      label: `View API keys (${u.api_keys?.length ?? 0})`,
      name: `View API keys (${u.api_keys?.length ?? 0}) of ${u.username}`,
      to: `/api-keys?username=${encodeURIComponent(u.username)}`,
    },
    s.can("API_KEY_WRITE") &&
      s.has("api_key.create") &&
      canHoldKey && { label: "Add API key", name: `Add API key for ${u.username}`, testid: "add-api-key", to: `/api-keys?new=${encodeURIComponent(u.username)}` },
    canWrite &&
      u.twofactor_auth_configured &&
      s.has("user.unset_2fa_secret") && {
        label: "Reset two-factor authentication",
        name: `Reset two-factor authentication for ${u.username}`,
        testid: "reset-2fa",
        onSelect: () => setDialog("unset2fa"),
      },
  ];

  const facts: [string, React.ReactNode][] = [
    ["Full name", u.full_name || "—"],
    ["Username", u.username],
    ["UID", u.uid],
    ["Email", u.email ?? "—"],
    ["Type", userType(u)],
    ["Primary group", u.group ? `${u.group.bsdgrp_group} (${u.group.bsdgrp_gid})` : "—"],
    ["Auxiliary groups", <AuxGroups key="aux" ids={u.groups ?? []} />],
    ["Roles", <RoleList key="roles" roles={u.roles} none="None" />],
    ["Home directory", <code key="h">{u.home}</code>],
    ["Shell", <code key="s">{u.shell}</code>],
    ["Password", u.password_disabled ? "Disabled" : u.last_password_change ? `Last changed ${fmtDate(u.last_password_change)}` : "Set"],
    ["Status", <UserStatus key="l" u={u} />],
    ["SMB user", <YesNo key="smb" value={u.smb} />],
    ["Microsoft account", <YesNo key="ms" value={u.microsoft_account} />],
    ["SSH password login", <YesNo key="ssh" value={u.ssh_password_enabled} />],
    [
      "SSH public key",
      u.sshpubkey ? (
        <code key="k" className="clip">
          {u.sshpubkey.slice(0, 60)}…
        </code>
      ) : (
        "None"
      ),
    ],
    ["Sudo commands", u.sudo_commands?.length ? u.sudo_commands.join(", ") : "None"],
    ["Sudo without password", u.sudo_commands_nopasswd?.length ? u.sudo_commands_nopasswd.join(", ") : "None"],
    ["Two-factor authentication", u.twofactor_auth_configured ? "Configured" : "Not configured"],
    ["API keys", u.api_keys?.length ?? 0],
  ];

  return (
    <div className="detail-panel" data-testid={`user-detail-${u.username}`}>
      <dl className="facts">
        {facts.map(([k, v]) => (
          <div key={k}>
            <dt>{k}</dt>
            <dd>{v}</dd>
          </div>
        ))}
      </dl>
      <ErrorBox error={err} />
      <div className="actions left row-actions" role="group" aria-label={`Actions for ${u.username}`}>
        {canWrite && s.has("user.update") && (
          <Link to={`/users/${u.id}/edit`} className="button" data-testid="edit-user">
            Edit
          </Link>
        )}
        {canWrite && s.has("user.update") && !u.password_disabled && (
          <button type="button" onClick={() => void toggleLock()} disabled={busy || (isSelf && !u.locked)} data-testid="lock-user">
            {u.locked ? "Unlock" : "Lock"}
          </button>
        )}
        <RowMenu
          name={u.username}
          actions={moreActions}
          testid="more-actions"
          label={
            <>
              More <span aria-hidden="true">▾</span>
            </>
          }
        />
        {canWrite && s.has("auth.generate_onetime_password") && !u.password_disabled && !u.locked && u.local && (
          <button type="button" onClick={() => void genOtpw()} data-testid="otpw-user">
            One-time password
          </button>
        )}
      </div>
      {!canWrite && <p className="hint">Your roles allow viewing this account, not changing it.</p>}
      {dialog === "delete" && (
        <ConfirmDialog
          title={`Delete user ${u.username}?`}
          confirmLabel="Delete"
          danger
          onClose={() => setDialog(null)}
          onConfirm={async () => {
            await api.call("user.delete", u.id, { delete_group: deleteGroup });
            toast(`User ${u.username} deleted.`);
            onChanged();
          }}
        >
          <p>The account is removed. Its home directory is kept; its SSH keys are removed.</p>
          <label className="check">
            <input type="checkbox" checked={deleteGroup} onChange={(e) => setDeleteGroup(e.target.checked)} data-testid="delete-primary-group" /> Also delete the primary group{" "}
            <strong>{u.group?.bsdgrp_group}</strong> if no other account uses it
          </label>
        </ConfirmDialog>
      )}
      {dialog === "unset2fa" && (
        <ConfirmDialog
          title={`Reset two-factor authentication for ${u.username}?`}
          confirmLabel="Reset 2FA"
          danger
          onClose={() => setDialog(null)}
          onConfirm={async () => {
            await api.call("user.unset_2fa_secret", u.username);
            toast(`Two-factor secret of ${u.username} removed.`);
            onChanged();
          }}
        >
          <p>
            The user's authenticator secret is removed. They can sign in with their password alone and set up a new authenticator under My profile. If they also forgot their password, give them a
            one-time password instead: they sign in with it (no code is asked), choose a new password and set up the new authenticator, which replaces the old one once confirmed.
          </p>
        </ConfirmDialog>
      )}
      {dialog === "otpw" && otpw && (
        <Dialog title={`One-time password for ${u.username}`} onClose={() => setDialog(null)} testid="otpw-dialog">
          <p>Give this password to {u.username}. It works once, within 24 hours, and they must choose a new password after signing in. It is shown only now.</p>
          <CopyField label="One-time password" value={otpw} testid="otpw-value" />
          <div className="actions">
            <button type="button" className="primary" onClick={() => setDialog(null)}>
              Done
            </button>
          </div>
        </Dialog>
      )}
    </div>
  );
}

export function goToUsers() {
  navigate("/users");
}
