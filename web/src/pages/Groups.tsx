// Credentials > Groups (reference §2, §12): server-paged table with built-ins hidden by default,
// search, add/edit in a dialog (name, GID from group.get_next_gid, sudo, SMB, members), delete
// with the "also delete users whose primary group it is" choice. Live via group.query events.

import { useEffect, useMemo, useRef, useState } from "react";
import { api, quickSearch } from "../api";
import { useSession } from "../session";
import { DataTable, actionsColumn, useTableState, type Column } from "../table";
import { FormDialog, useSubmit } from "../forms";
import { CheckField, ConfirmDialog, ErrorBox, FieldGroup, RoleList, SearchField, TextArea, TextField, YesNo, lines, useAsync, useToast } from "../ui";
import { MembersPicker } from "../members-picker";
import type { GroupEntry } from "../api-types";

export type Group = GroupEntry;

export function GroupsPage() {
  const s = useSession();
  const toast = useToast();
  const canWrite = s.can("ACCOUNT_WRITE") && s.has("group.create");
  const [showBuiltin, setShowBuiltin] = useState(false);
  const [q, setQ] = useState("");
  const [dq, setDq] = useState("");
  const { page, setPage, pageSize, sort, tableProps } = useTableState({ sort: "name" });
  const [tick, setTick] = useState(0);
  const [editing, setEditing] = useState<Group | "new" | null>(null);
  const [deleting, setDeleting] = useState<Group | null>(null);
  const [deleteUsers, setDeleteUsers] = useState(false);

  useEffect(() => {
    const t = setTimeout(() => setDq(q), 250);
    return () => clearTimeout(t);
  }, [q]);
  useEffect(() => setPage(0), [dq, showBuiltin, pageSize]);
  const filters = useMemo(() => [...(showBuiltin ? [] : [["builtin", "=", false]]), ...quickSearch(["name"], dq)], [showBuiltin, dq]);
  const data = useAsync(() => api.page("group.query", filters, { limit: pageSize, offset: page * pageSize, order_by: [sort] }), [filters, page, pageSize, sort, tick]);

  const timer = useRef<ReturnType<typeof setTimeout> | null>(null);
  useEffect(() => {
    const off = api.subscribe("group.query", () => {
      if (timer.current) clearTimeout(timer.current);
      timer.current = setTimeout(() => setTick((t) => t + 1), 200);
    });
    return () => {
      off();
      if (timer.current) clearTimeout(timer.current);
    };
  }, []);

  const columns: Column<Group>[] = [
    { key: "name", label: "Group", sort: "name", always: true, render: (g) => <strong>{g.name}</strong> },
    { key: "gid", label: "GID", sort: "gid", render: (g) => g.gid, className: "num" },
    { key: "builtin", label: "Built-in", sort: "builtin", render: (g) => <YesNo value={g.builtin} /> },
    { key: "sudo", label: "Allows sudo commands", render: (g) => <YesNo value={g.sudo_commands?.length || g.sudo_commands_nopasswd?.length} /> },
    { key: "smb", label: "Samba authentication", sort: "smb", render: (g) => <YesNo value={g.smb} /> },
    { key: "roles", label: "Roles", render: (g) => <RoleList roles={g.roles} /> },
    { key: "members", label: "Members", render: (g) => g.users?.length ?? 0, className: "num" },
    actionsColumn(
      (g) => g.name,
      (g) => [
        canWrite && !g.immutable && { label: "Edit", onSelect: () => setEditing(g) },
        canWrite &&
          !g.builtin && {
            label: "Delete",
            danger: true,
            testid: "delete-group",
            onSelect: () => {
              setDeleteUsers(false);
              setDeleting(g);
            },
          },
      ],
    ),
  ];

  return (
    <section className="page" aria-labelledby="groups-h">
      <div className="page-head">
        <h1 id="groups-h">Groups</h1>
        {canWrite && (
          <button type="button" className="primary" onClick={() => setEditing("new")} data-testid="add-group">
            Add group
          </button>
        )}
      </div>
      <div className="filters">
        <SearchField id="group-search" label="Search groups" value={q} onValue={setQ} />
        <label className="check">
          <input type="checkbox" checked={showBuiltin} onChange={(e) => setShowBuiltin(e.target.checked)} /> Show built-in groups
        </label>
      </div>
      <ErrorBox error={data.error} onRetry={data.reload} />
      <DataTable<Group>
        id="groups"
        caption="Groups"
        columns={columns}
        rows={data.data?.rows ?? []}
        total={data.data?.total ?? 0}
        rowKey={(g) => g.id}
        rowLabel={(g) => g.name}
        {...tableProps}
        loading={data.loading}
        empty={
          dq ? (
            "No group matches the search."
          ) : (
            <span>
              No groups of your own yet{showBuiltin ? "" : " (built-in groups are hidden)"}.{" "}
              {canWrite && (
                <button type="button" className="link" onClick={() => setEditing("new")}>
                  Add the first group
                </button>
              )}
            </span>
          )
        }
        renderDetail={(g) => (
          <div className="detail-panel">
            <dl className="facts">
              <div>
                <dt>Sudo commands</dt>
                <dd>{g.sudo_commands?.join(", ") || "None"}</dd>
              </div>
              <div>
                <dt>Sudo without password</dt>
                <dd>{g.sudo_commands_nopasswd?.join(", ") || "None"}</dd>
              </div>
              <div>
                <dt>Members</dt>
                <dd>{g.users?.length ?? 0}</dd>
              </div>
              <div>
                <dt>Roles</dt>
                <dd>
                  <RoleList roles={g.roles} none="None" />
                </dd>
              </div>
            </dl>
          </div>
        )}
      />
      {editing && (
        <GroupDialog
          group={editing === "new" ? null : editing}
          onClose={() => setEditing(null)}
          onSaved={(name) => {
            toast(`Group ${name} saved.`);
            setEditing(null);
            setTick((t) => t + 1);
          }}
        />
      )}
      {deleting && (
        <ConfirmDialog
          title={`Delete group ${deleting.name}?`}
          confirmLabel="Delete"
          danger
          onClose={() => setDeleting(null)}
          onConfirm={async () => {
            await api.call("group.delete", deleting.id, { delete_users: deleteUsers });
            toast(`Group ${deleting.name} deleted.`);
            setTick((t) => t + 1);
          }}
        >
          <DeleteGroupBody group={deleting} deleteUsers={deleteUsers} setDeleteUsers={setDeleteUsers} />
        </ConfirmDialog>
      )}
    </section>
  );
}

/** How many users have `group` as their primary group (they are deleted with it when asked). */
function DeleteGroupBody({ group, deleteUsers, setDeleteUsers }: { group: Group; deleteUsers: boolean; setDeleteUsers: (v: boolean) => void }) {
  const primary = useAsync(() => api.call("user.query", [["group.id", "=", group.id]], { count: true }) as Promise<unknown> as Promise<number>, [group.id]);
  const n = primary.data;
  const users = (k: number) => `${k.toLocaleString()} user${k === 1 ? "" : "s"}`;
  const members = group.users?.length ?? 0;
  return (
    <>
      <p data-testid="delete-group-count">
        {n === undefined
          ? "Counting the users whose primary group this is…"
          : n === 0
            ? "No user has this as their primary group."
            : `${users(n)} ${n === 1 ? "has" : "have"} this as their primary group.`}
        {members > 0 && ` ${users(members)} ${members === 1 ? "is a member" : "are members"} of it; ${members === 1 ? "that membership ends" : "those memberships end"}, the users stay.`}
      </p>
      {!!n && (
        <>
          <label className="check">
            <input type="checkbox" checked={deleteUsers} onChange={(e) => setDeleteUsers(e.target.checked)} data-testid="delete-group-users" /> Also delete these {users(n)}
          </label>
          <p className={deleteUsers ? "alert warn" : "hint"} data-testid="delete-group-consequence">
            {deleteUsers ? `${users(n)} will be deleted together with the group.` : "Otherwise they move to the group “nogroup”."}
          </p>
        </>
      )}
    </>
  );
}

function GroupDialog({ group, onClose, onSaved }: { group: Group | null; onClose: () => void; onSaved: (name: string) => void }) {
  const editing = !!group;
  const [name, setName] = useState(group?.name ?? "");
  const [gid, setGid] = useState("");
  const [smb, setSmb] = useState(group?.smb ?? true);
  const [sudoAll, setSudoAll] = useState(group?.sudo_commands.includes("ALL") ?? false);
  const [sudo, setSudo] = useState((group?.sudo_commands ?? []).filter((c) => c !== "ALL").join("\n"));
  const [nopwAll, setNopwAll] = useState(group?.sudo_commands_nopasswd.includes("ALL") ?? false);
  const [nopw, setNopw] = useState((group?.sudo_commands_nopasswd ?? []).filter((c) => c !== "ALL").join("\n"));
  const [members, setMembers] = useState<number[]>(group?.users ?? []);
  const [memberQ, setMemberQ] = useState("");
  const { errs, busy, onSubmit } = useSubmit(["name", "gid", "smb", "sudo_commands", "sudo_commands_nopasswd", "users"]);
  useEffect(() => {
    if (!editing)
      api.call("group.get_next_gid").then(
        (g) => setGid(String(g)),
        () => {},
      );
  }, [editing]);
  const candidates = useAsync(
    () =>
      api.select("user.query", [["local", "=", true], ...quickSearch(["username"], memberQ)], ["id", "username", "full_name"], {
        limit: 30,
        order_by: ["username"],
      }),
    [memberQ],
  );
  const memberNames = useAsync(() => (members.length ? api.select("user.query", [["id", "in", members]], ["id", "username"], { limit: 500 }) : Promise.resolve([])), [members.join(",")]);
  const nameOf = (id: number) => memberNames.data?.find((u) => u.id === id)?.username ?? `#${id}`;

  const submit = onSubmit(async () => {
    const body = {
      name,
      smb,
      sudo_commands: sudoAll ? ["ALL"] : lines(sudo),
      sudo_commands_nopasswd: nopwAll ? ["ALL"] : lines(nopw),
      users: members,
    };
    if (editing) {
      // Built-in groups keep their name, SMB and sudo settings: only members change.
      await api.call("group.update", group!.id, group!.builtin ? { users: members } : body);
    } else {
      await api.call("group.create", gid.trim() ? { ...body, gid: Number(gid) } : body);
    }
    onSaved(name);
  });
  const E = errs.fields;
  const builtin = !!group?.builtin;
  return (
    <FormDialog title={editing ? `Edit group ${group!.name}` : "Add group"} onClose={onClose} onSubmit={submit} errs={errs} busy={busy} wide testid="group-dialog">
      <div className="grid2">
        <TextField label="Name" name="name" required value={name} onValue={setName} errors={E} disabled={builtin} />
        {!editing && <TextField label="GID" name="gid" type="number" value={gid} onValue={setGid} errors={E} hint="The next free GID is suggested." />}
      </div>
      <CheckField label="Samba authentication" name="smb" checked={smb} onValue={setSmb} errors={E} disabled={builtin} />
      <CheckField label="Allow all sudo commands" name="sudo_all" checked={sudoAll} onValue={setSudoAll} disabled={builtin} />
      {!sudoAll && <TextArea label="Allowed sudo commands" name="sudo_commands" rows={2} value={sudo} onValue={setSudo} errors={E} disabled={builtin} className="mono" />}
      <CheckField label="Allow all sudo commands with no password" name="sudo_nopasswd_all" checked={nopwAll} onValue={setNopwAll} disabled={builtin} />
      {!nopwAll && <TextArea label="Allowed sudo commands with no password" name="sudo_commands_nopasswd" rows={2} value={nopw} onValue={setNopw} errors={E} disabled={builtin} className="mono" />}
      <FieldGroup name="users" legend="Members" errors={E}>
        <MembersPicker members={members} onChange={setMembers} nameOf={nameOf} candidates={candidates.data ?? []} loading={candidates.loading} query={memberQ} onQuery={setMemberQ} />
      </FieldGroup>
    </FormDialog>
  );
}
