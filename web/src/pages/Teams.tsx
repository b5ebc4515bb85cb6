// Teams (issue 11 point 8): members and their access to systems and system groups. A team's
// grants reach every member (levels 3 and 4 of the precedence rule). Editing needs FLEET_WRITE;
// the server refuses a grant the editor does not hold itself.

import { useState } from "react";
import { useSession } from "../session";
import { FormDialog, useSubmit } from "../forms";
import { ConfirmDialog, ErrorBox, TextField, useAsync, useToast } from "../ui";
import { MembersPicker } from "../members-picker";
import { GrantRows } from "./UserFleetAccess";
import { accessLabel, fleetCall, useFleetNames, type Team } from "./FleetAccessShared";

export function TeamsPage() {
  const s = useSession();
  const toast = useToast();
  const canWrite = s.can("FLEET_WRITE") && s.has("team.create");
  const [tick, setTick] = useState(0);
  const [editing, setEditing] = useState<Team | "new" | null>(null);
  const [deleting, setDeleting] = useState<Team | null>(null);
  const list = useAsync(() => fleetCall<Team[]>("team.query", [], { order_by: ["name"] }), [tick]);
  const names = useFleetNames([tick]);
  const n = names.data;
  return (
    <section className="page" aria-labelledby="teams-h">
      <div className="page-head">
        <h1 id="teams-h">Teams</h1>
        {canWrite && (
          <button type="button" className="primary" onClick={() => setEditing("new")} data-testid="add-team">
            Add team
          </button>
        )}
      </div>
      <p className="hint">A team's access reaches each of its members, unless the member's own grant on the system (or on a group containing it) decides first.</p>
      <ErrorBox error={list.error ?? names.error} onRetry={list.reload} />
      <table className="data" data-testid="teams-table">
        <caption className="sr-only">Teams</caption>
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Members</th>
            <th scope="col">Systems</th>
            <th scope="col">System groups</th>
            <th scope="col">Actions</th>
          </tr>
        </thead>
        <tbody>
          {(list.data ?? []).map((t) => (
            <tr key={t.id} data-testid="team-row">
              <td>
                <strong>{t.name}</strong>
              </td>
              <td>{n ? t.members.map(n.user).join(", ") || "—" : t.members.length}</td>
              <td>{t.systems.map((x) => `${n ? n.system(x.system) : x.system} (${accessLabel(x.access)})`).join(", ") || "—"}</td>
              <td>{t.system_groups.map((x) => `${n ? n.group(x.system_group) : x.system_group} (${accessLabel(x.access)})`).join(", ") || "—"}</td>
              <td>
                {canWrite ? (
                  <span className="row-actions">
                    <button type="button" className="small" onClick={() => setEditing(t)} aria-label={`Edit ${t.name}`}>
                      Edit
                    </button>
                    <button type="button" className="small danger" onClick={() => setDeleting(t)} aria-label={`Delete ${t.name}`}>
                      Delete
                    </button>
                  </span>
                ) : (
                  "—"
                )}
              </td>
            </tr>
          ))}
          {list.data && !list.data.length && (
            <tr>
              <td colSpan={5}>No team yet.</td>
            </tr>
          )}
        </tbody>
      </table>
      {editing && n && (
        <TeamDialog
          team={editing === "new" ? null : editing}
          names={n}
          onClose={() => setEditing(null)}
          onSaved={(name) => {
            toast(`Team ${name} saved.`);
            setEditing(null);
            setTick((x) => x + 1);
          }}
        />
      )}
      {deleting && (
        <ConfirmDialog
          title={`Delete team ${deleting.name}?`}
          confirmLabel="Delete"
          danger
          onClose={() => setDeleting(null)}
          onConfirm={async () => {
            await fleetCall("team.delete", deleting.id);
            toast(`Team ${deleting.name} deleted.`);
            setTick((x) => x + 1);
          }}
        >
          <p>Its members lose the access the team gave them.</p>
        </ConfirmDialog>
      )}
    </section>
  );
}

type Names = NonNullable<ReturnType<typeof useFleetNames>["data"]>;

function TeamDialog({ team, names, onClose, onSaved }: { team: Team | null; names: Names; onClose: () => void; onSaved: (name: string) => void }) {
  const [name, setName] = useState(team?.name ?? "");
  const [members, setMembers] = useState<number[]>(team?.members ?? []);
  const [systems, setSystems] = useState(team?.systems ?? []);
  const [groups, setGroups] = useState(team?.system_groups ?? []);
  const [q, setQ] = useState("");
  const { errs, busy, onSubmit } = useSubmit(["name", "members", "systems", "system_groups"]);
  const candidates = names.users.filter((u) => !q || u.username.toLowerCase().includes(q.toLowerCase())).slice(0, 200);
  const submit = onSubmit(async () => {
    const data = { name, members, systems: systems.filter((x) => x.system > 0), system_groups: groups.filter((x) => x.system_group > 0) };
    if (team) await fleetCall("team.update", team.id, data);
    else await fleetCall("team.create", data);
    onSaved(name);
  });
  return (
    <FormDialog title={team ? `Edit team ${team.name}` : "Add team"} onClose={onClose} onSubmit={submit} errs={errs} busy={busy} wide testid="team-dialog" submitTestid="save-team">
      <TextField label="Name" name="name" required value={name} onValue={setName} errors={errs.fields} />
      <h3>Members</h3>
      <MembersPicker members={members} onChange={setMembers} nameOf={names.user} candidates={candidates} loading={false} query={q} onQuery={setQ} />
      <GrantRows kind="system" title="System Access" addLabel="Add system" rows={systems} choices={names.systems} onChange={setSystems} errors={errs.fields} testid="team-systems" />
      <GrantRows kind="system_group" title="System Groups" addLabel="Add group" rows={groups} choices={names.groups} onChange={setGroups} errors={errs.fields} testid="team-system-groups" />
    </FormDialog>
  );
}
