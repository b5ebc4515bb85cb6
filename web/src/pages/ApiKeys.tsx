// API keys (seed 000, reference §6, §12): all keys for holders of API_KEY_READ (server paging,
// newest first), "My API keys" for everyone (api_key.my_keys). Create with an expiry date or
// non-expiring; the key is shown once with a copy button; edit, reset, revoke, delete.

import { useEffect, useMemo, useState } from "react";
import { api, quickSearch, RpcError } from "../api";
import { setSearch, useLocation } from "../router";
import { useSession } from "../session";
import { DataTable, actionsColumn, type Column } from "../table";
import { FormDialog, useSubmit } from "../forms";
import { CheckField, ConfirmDialog, CopyField, Dialog, ErrorBox, FieldGroup, FilterInput, RoleList, SearchField, SelectField, Term, TextField, fmtDate, useAsync, useToast } from "../ui";
import { roleMatches, sortRoles } from "./Privileges";
import type { ApiKeyEntry } from "../api-types";

export type ApiKey = ApiKeyEntry;

function dateInputValue(d: Date | null): string {
  if (!d) return "";
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`;
}

function expiryFromInput(v: string): Date {
  return new Date(`${v}T23:59:59`);
}

function status(k: ApiKey): string {
  if (k.revoked) return `Revoked${k.revoked_reason ? `: ${k.revoked_reason}` : ""}`;
  if (k.expires_at && k.expires_at.getTime() < Date.now()) return "Expired";
  // Keys made before SCRAM log in with PLAIN only until reset (or their next PLAIN login).
  if ((k as ApiKey & { scram?: boolean }).scram === false) return "Active (reset to enable SCRAM)";
  return "Active";
}

export function ApiKeysPage() {
  const s = useSession();
  const { search } = useLocation();
  const canAll = s.allowed("api_key.query", "API_KEY_READ");
  // "My API keys" from the top bar's settings menu opens on the caller's own keys (seed 000).
  const [tab, setTab] = useState<"all" | "mine">(canAll && search.get("mine") === null ? "all" : "mine");
  const askedMine = search.get("mine") !== null;
  useEffect(() => {
    if (askedMine) setTab("mine");
  }, [askedMine]);
  const newFor = search.get("new");
  const userFilter = search.get("username") ?? "";
  return (
    <section className="page" aria-labelledby="keys-h">
      <div className="page-head">
        <h1 id="keys-h">API keys</h1>
      </div>
      {canAll && (
        <div className="tabs" role="tablist" aria-label="Which keys">
          <button type="button" role="tab" aria-selected={tab === "all"} onClick={() => setTab("all")}>
            All keys
          </button>
          <button type="button" role="tab" aria-selected={tab === "mine"} onClick={() => setTab("mine")}>
            My API keys
          </button>
        </div>
      )}
      <div role="tabpanel">
        <ApiKeysPanel mine={tab === "mine"} userFilter={tab === "all" ? userFilter : ""} openNewFor={newFor} />
      </div>
    </section>
  );
}

export function ApiKeysPanel({ mine, userFilter = "", openNewFor = null }: { mine: boolean; userFilter?: string; openNewFor?: string | null }) {
  const s = useSession();
  const toast = useToast();
  const self = s.me?.pw_name ?? "";
  const canWriteAll = s.can("API_KEY_WRITE") && s.has("api_key.create");
  const canWriteOwn = s.has("api_key.create");
  const canWrite = mine ? canWriteOwn : canWriteAll;
  const holders = useKeyHolders(!mine && canWriteAll);
  const [q, setQ] = useState(userFilter);
  const [page, setPage] = useState(0);
  const [sort, setSort] = useState("-created_at");
  const [tick, setTick] = useState(0);
  const [creating, setCreating] = useState<string | null>(openNewFor && canWriteAll ? openNewFor : null);
  const [editing, setEditing] = useState<ApiKey | null>(null);
  const [shownKey, setShownKey] = useState<{ name: string; key: string } | null>(null);
  const [confirm, setConfirm] = useState<{ kind: "delete" | "revoke" | "reset"; key: ApiKey } | null>(null);
  useEffect(() => setQ(userFilter), [userFilter]);
  const canRevoke = s.has("api_key.revoke") || s.methodAccepts("api_key.update", 1, "revoked");

  const filters = useMemo(() => quickSearch(["name", "username"], q), [q]);
  const data = useAsync(async () => {
    if (mine) {
      let rows = await api.call("api_key.my_keys");
      const t = q.trim().toLowerCase();
      if (t) rows = rows.filter((k) => k.name.toLowerCase().includes(t));
      const desc = sort.startsWith("-");
      const f = sort.replace(/^-/, "") as keyof ApiKey;
      rows.sort((a, b) => {
        const key = (k: ApiKey): number | string => {
          const v = k[f];
          if (v instanceof Date) return v.getTime();
          if (typeof v === "boolean") return Number(v);
          return typeof v === "number" || typeof v === "string" ? v : -Infinity; // null: first
        };
        const x = key(a);
        const y = key(b);
        return (x > y ? 1 : x < y ? -1 : 0) * (desc ? -1 : 1);
      });
      return { total: rows.length, rows: rows.slice(page * 50, page * 50 + 50) };
    }
    return api.page("api_key.query", filters, { limit: 50, offset: page * 50, order_by: [sort] });
  }, [mine, filters, q, page, sort, tick]);

  const canReadAll = s.can("API_KEY_READ");
  useEffect(() => {
    if (mine || !canReadAll) return;
    return api.subscribe("api_key.query", () => setTick((t) => t + 1));
  }, [mine, canReadAll]);

  const act = async (kind: "delete" | "revoke" | "reset", k: ApiKey) => {
    if (kind === "delete") {
      await api.call("api_key.delete", k.id);
      toast(`API key ${k.name} deleted.`);
    } else if (kind === "revoke") {
      if (s.has("api_key.revoke")) await api.call("api_key.revoke", k.id);
      // A server without api_key.revoke (the reference's): its own way, untyped.
      else await api.callOptional("api_key.update", k.id, { revoked: true });
      toast(`API key ${k.name} revoked.`);
    } else {
      const r = await api.call("api_key.update", k.id, { reset: true });
      if (!("key" in r)) throw new Error("The server reset the key but did not return it.");
      setShownKey({ name: k.name, key: r.key });
    }
    setTick((t) => t + 1);
  };

  const columns: Column<ApiKey>[] = [
    { key: "name", label: "Name", sort: "name", always: true, render: (k) => <strong>{k.name}</strong> },
    { key: "username", label: "User", sort: "username", render: (k) => k.username ?? "(deleted user)" },
    { key: "created_at", label: "Created", sort: "created_at", render: (k) => fmtDate(k.created_at) },
    { key: "expires_at", label: "Expires", sort: "expires_at", render: (k) => (k.expires_at ? fmtDate(k.expires_at) : "Never") },
    { key: "status", label: "Status", render: (k) => <span className={k.revoked ? "bad" : ""}>{status(k)}</span> },
    { key: "roles", label: "Roles", hidden: true, render: (k) => <RoleList roles={k.roles ?? undefined} none="All of the owner's" /> },
    actionsColumn(
      (k) => k.name,
      (k) =>
        canWrite
          ? [
              { label: "Edit", onSelect: () => setEditing(k) },
              { label: "Reset", onSelect: () => setConfirm({ kind: "reset", key: k }) },
              canRevoke && !k.revoked && { label: "Revoke", onSelect: () => setConfirm({ kind: "revoke", key: k }) },
              { label: "Delete", danger: true, onSelect: () => setConfirm({ kind: "delete", key: k }) },
            ]
          : [],
    ),
  ];

  return (
    <div data-testid={mine ? "my-keys" : "all-keys"}>
      <div className="filters">
        <SearchField
          id={`key-search-${mine}`}
          label="Search keys"
          value={q}
          onValue={(v) => {
            setQ(v);
            setPage(0);
            if (!mine && userFilter) setSearch({ username: null });
          }}
        />
        {canWrite && (mine ? (s.me?.privilege.roles.length ?? 0) > 0 : (holders.data?.length ?? 0) > 0) && (
          <button type="button" className="primary" onClick={() => setCreating(mine ? self : "")} data-testid="add-api-key">
            Add API key
          </button>
        )}
      </div>
      <ErrorBox error={data.error} onRetry={data.reload} />
      <DataTable<ApiKey>
        id={mine ? "mykeys" : "apikeys"}
        caption={mine ? "My API keys" : "API keys"}
        columns={columns}
        rows={data.data?.rows ?? []}
        total={data.data?.total ?? 0}
        rowKey={(k) => k.id}
        page={page}
        pageSize={50}
        onPage={setPage}
        sort={sort}
        onSort={setSort}
        loading={data.loading}
        empty="No API keys."
      />
      {creating !== null && (
        <KeyDialog
          fixedUser={mine ? self : null}
          initialUser={creating}
          onClose={() => {
            setCreating(null);
            if (openNewFor) setSearch({ new: null });
          }}
          onSaved={(name, key) => {
            setCreating(null);
            if (openNewFor) setSearch({ new: null });
            if (key) setShownKey({ name, key });
            setTick((t) => t + 1);
          }}
        />
      )}
      {editing && (
        <KeyDialog
          existing={editing}
          fixedUser={editing.username}
          initialUser={editing.username ?? ""}
          onClose={() => setEditing(null)}
          onSaved={(name) => {
            setEditing(null);
            toast(`API key ${name} saved.`);
            setTick((t) => t + 1);
          }}
        />
      )}
      {confirm && (
        <ConfirmDialog
          title={confirm.kind === "delete" ? `Delete API key ${confirm.key.name}?` : confirm.kind === "revoke" ? `Revoke API key ${confirm.key.name}?` : `Reset API key ${confirm.key.name}?`}
          confirmLabel={confirm.kind === "delete" ? "Delete" : confirm.kind === "revoke" ? "Revoke" : "Reset"}
          danger={confirm.kind !== "reset"}
          onClose={() => setConfirm(null)}
          onConfirm={() => act(confirm.kind, confirm.key)}
        >
          <p>
            {confirm.kind === "reset"
              ? "A new key replaces the current one, which stops working at once. The new key is shown once."
              : confirm.kind === "revoke"
                ? "The key stops working at once. You can bring it back later with Reset, which issues a new key."
                : "The key stops working and is removed."}
          </p>
        </ConfirmDialog>
      )}
      {shownKey && <ShowKeyDialog name={shownKey.name} apiKey={shownKey.key} onClose={() => setShownKey(null)} />}
    </div>
  );
}

export function ShowKeyDialog({ name, apiKey, onClose }: { name: string; apiKey: string; onClose: () => void }) {
  return (
    <Dialog title={`API key ${name}`} onClose={onClose} testid="key-dialog">
      <p className="alert info">Copy the key now. It is shown only once and cannot be displayed again.</p>
      <CopyField label="API key" value={apiKey} testid="api-key-value" />
      <div className="actions">
        <button type="button" className="primary" onClick={onClose}>
          Done
        </button>
      </div>
    </Dialog>
  );
}

/**
 * The users an API key may be made for: local accounts with at least one role, all of which the
 * caller holds (a key carries only its user's roles, and only someone holding a role may grant it).
 */
export function useKeyHolders(enabled = true) {
  const s = useSession();
  return useAsync(
    () =>
      enabled
        ? api
            .select("user.query", [["roles", "!=", []]], ["username", "full_name", "id", "roles"], { limit: 1000, order_by: ["username:ci"] })
            .then((rows) => rows.filter((u) => (u.roles ?? []).length > 0 && (u.roles ?? []).every((r: string) => s.can(r))))
            .catch(() => [])
        : Promise.resolve([]),
    [enabled],
  );
}

function KeyDialog(props: { existing?: ApiKey; fixedUser: string | null; initialUser: string; onClose: () => void; onSaved: (name: string, key?: string) => void }) {
  const ex = props.existing;
  const [name, setName] = useState(ex?.name ?? "");
  const [username, setUsername] = useState(props.fixedUser ?? props.initialUser);
  const [nonExpiring, setNonExpiring] = useState(ex ? !ex.expires_at : true);
  const [expires, setExpires] = useState(dateInputValue(ex?.expires_at ?? null));
  const s = useSession();
  const rolesSupported = s.methodAccepts("api_key.create", 0, "roles");
  const [limit, setLimit] = useState(!!ex?.roles?.length);
  const [roles, setRoles] = useState<string[]>(ex?.roles ?? []);
  const [roleQ, setRoleQ] = useState("");
  const allRoles = useAsync(() => (rolesSupported && limit ? api.query("privilege.roles").then(sortRoles) : Promise.resolve([])), [rolesSupported, limit]);
  const { errs, busy, onSubmit } = useSubmit(["name", "username", "expires_at", "roles"]);
  const users = useKeyHolders(props.fixedUser === null);
  const submit = onSubmit(
    async () => {
      const expires_at = nonExpiring ? null : expiryFromInput(expires);
      const extra = rolesSupported ? { roles: limit ? roles : null } : {};
      if (ex) {
        await api.call("api_key.update", ex.id, { name, expires_at, ...extra });
        props.onSaved(name);
      } else {
        const r = await api.call("api_key.create", { name, username, expires_at, ...extra });
        props.onSaved(name, r.key);
      }
    },
    {
      check: () => {
        if (nonExpiring || expires) return true;
        errs.setField("expires_at", ["Choose an expiry date, or check “Non-expiring”."]);
        return false;
      },
      explain: (err) => (err instanceof RpcError && !err.isValidation && err.errname === "EACCES" ? err.message : null),
    },
  );
  const E = errs.fields;
  return (
    <FormDialog
      title={ex ? `Edit API key ${ex.name}` : "Add API key"}
      onClose={props.onClose}
      onSubmit={submit}
      errs={errs}
      busy={busy}
      testid="api-key-form"
      submitLabel={ex ? "Save" : "Create key"}
      submitTestid="save-api-key"
    >
      <TextField label="Name" name="name" required value={name} onValue={setName} errors={E} maxLength={200} />
      {props.fixedUser !== null ? (
        <div className="field">
          <span className="label">User</span>
          <div className="static">{props.fixedUser}</div>
        </div>
      ) : (
        <SelectField label="Username" name="username" required value={username} onValue={setUsername} errors={E} hint="Users who can hold a key: with at least one role, all of which you hold.">
          <option value="">{users.data ? "Choose a user" : "Loading…"}</option>
          {!!username && !users.data?.some((u) => u.username === username) && <option value={username}>{username}</option>}
          {(users.data ?? []).map((u) => (
            <option key={u.username} value={u.username}>
              {u.username}
              {u.full_name ? ` (${u.full_name})` : ""}
            </option>
          ))}
        </SelectField>
      )}
      <CheckField label="Non-expiring" name="non_expiring" checked={nonExpiring} onValue={setNonExpiring} />
      {!nonExpiring && (
        <TextField
          label="Expires on"
          name="expires_at"
          type="date"
          value={expires}
          min={dateInputValue(new Date())}
          onValue={setExpires}
          errors={E}
          hint="The key stops working at the end of this day."
        />
      )}
      {rolesSupported && (
        <>
          <CheckField label="Limit the key to some of the owner's roles" name="limit_roles" checked={limit} onValue={setLimit} hint="Without a limit the key has every role of its owner." />
          {limit && (
            <FieldGroup name="roles" legend="Roles of this key" errors={E}>
              <FilterInput id="key-role-q" label="Filter roles" value={roleQ} onValue={setRoleQ} />
              <div className="pick-list roles" role="group" aria-label="Key roles">
                {(allRoles.data ?? [])
                  .filter((r) => roleMatches(r.name, roleQ))
                  .map((r) => (
                    <label key={r.name} className={`check ${!r.builtin ? "compound" : ""}`}>
                      <input type="checkbox" checked={roles.includes(r.name)} onChange={(e) => setRoles(e.target.checked ? [...roles, r.name] : roles.filter((x) => x !== r.name))} />{" "}
                      <Term kind="role" id={r.name} />
                    </label>
                  ))}
              </div>
            </FieldGroup>
          )}
        </>
      )}
    </FormDialog>
  );
}
