// System groups (issue 11 point 8): named sets of managed systems; a grant on a group reaches
// every system in it. Editing needs FLEET_WRITE; the server refuses adding a system to a group
// whose grants would give access the editor does not hold.

import { useState } from "react";
import { useSession } from "../session";
import { FormDialog, useSubmit } from "../forms";
import { ConfirmDialog, ErrorBox, FieldError, TextField, useAsync, useToast } from "../ui";
import { fleetCall, useFleetNames, type SystemGroup } from "./FleetAccessShared";

export function SystemGroupsPage() {
  const s = useSession();
  const toast = useToast();
  const canWrite = s.can("FLEET_WRITE") && s.has("fleet.system_group.create");
  const [tick, setTick] = useState(0);
  const [editing, setEditing] = useState<SystemGroup | "new" | null>(null);
  const [deleting, setDeleting] = useState<SystemGroup | null>(null);
  const list = useAsync(() => fleetCall<SystemGroup[]>("fleet.system_group.query", [], { order_by: ["name"] }), [tick]);
  const names = useFleetNames([tick]);
  const n = names.data;
  return (
    <section className="page" aria-labelledby="sg-h">
      <div className="page-head">
        <h1 id="sg-h">System groups</h1>
        {canWrite && (
          <button type="button" className="primary" onClick={() => setEditing("new")} data-testid="add-system-group">
            Add system group
          </button>
        )}
      </div>
      <ErrorBox error={list.error ?? names.error} onRetry={list.reload} />
      <table className="data" data-testid="system-groups-table">
        <caption className="sr-only">System groups</caption>
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Systems</th>
            <th scope="col">Actions</th>
          </tr>
        </thead>
        <tbody>
          {(list.data ?? []).map((g) => (
            <tr key={g.id} data-testid="system-group-row">
              <td>
                <strong>{g.name}</strong>
              </td>
              <td>{g.systems.map((id) => (n ? n.system(id) : id)).join(", ") || "—"}</td>
              <td>
                {canWrite ? (
                  <span className="row-actions">
                    <button type="button" className="small" onClick={() => setEditing(g)} aria-label={`Edit ${g.name}`}>
                      Edit
                    </button>
                    <button type="button" className="small danger" onClick={() => setDeleting(g)} aria-label={`Delete ${g.name}`}>
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
              <td colSpan={3}>No system group yet.</td>
            </tr>
          )}
        </tbody>
      </table>
      {editing && n && (
        <GroupDialog
          group={editing === "new" ? null : editing}
          systems={n.systems}
          onClose={() => setEditing(null)}
          onSaved={(name) => {
            toast(`System group ${name} saved.`);
            setEditing(null);
            setTick((x) => x + 1);
          }}
        />
      )}
      {deleting && (
        <ConfirmDialog
          title={`Delete system group ${deleting.name}?`}
          confirmLabel="Delete"
          danger
          onClose={() => setDeleting(null)}
          onConfirm={async () => {
            await fleetCall("fleet.system_group.delete", deleting.id);
            toast(`System group ${deleting.name} deleted.`);
            setTick((x) => x + 1);
          }}
        >
          <p>Every grant on this group (of users and teams) is removed with it.</p>
        </ConfirmDialog>
      )}
    </section>
  );
}

function GroupDialog({ group, systems, onClose, onSaved }: { group: SystemGroup | null; systems: { id: number; name: string }[]; onClose: () => void; onSaved: (name: string) => void }) {
  const [name, setName] = useState(group?.name ?? "");
  const [chosen, setChosen] = useState<number[]>(group?.systems ?? []);
  const { errs, busy, onSubmit } = useSubmit(["name", "systems"]);
  const submit = onSubmit(async () => {
    if (group) await fleetCall("fleet.system_group.update", group.id, { name, systems: chosen });
    else await fleetCall("fleet.system_group.create", { name, systems: chosen });
    onSaved(name);
  });
  return (
    <FormDialog
      title={group ? `Edit system group ${group.name}` : "Add system group"}
      onClose={onClose}
      onSubmit={submit}
      errs={errs}
      busy={busy}
      testid="system-group-dialog"
      submitTestid="save-system-group"
    >
      <TextField label="Name" name="name" required value={name} onValue={setName} errors={errs.fields} />
      <fieldset className="section" data-field="systems" tabIndex={-1}>
        <legend>Systems</legend>
        {systems.length === 0 && <p className="hint">No system is registered yet.</p>}
        <ul className="check-list">
          {systems.map((s) => (
            <li key={s.id}>
              <label>
                <input type="checkbox" checked={chosen.includes(s.id)} onChange={(e) => setChosen(e.target.checked ? [...chosen, s.id] : chosen.filter((x) => x !== s.id))} /> {s.name}
              </label>
            </li>
          ))}
        </ul>
        <FieldError errors={errs.fields.systems} />
      </fieldset>
    </FormDialog>
  );
}
