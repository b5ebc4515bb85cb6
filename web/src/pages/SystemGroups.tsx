// System groups (issue 11 point 8): named sets of managed systems; a grant on a group reaches
// every system in it. Editing needs FLEET_WRITE; the server refuses adding a system to a group
// whose grants would give access the editor does not hold.

import { useState } from "react";
import { useSession } from "../session";
import { FormDialog, useSubmit } from "../forms";
import { FieldError, TextField, useAsync, useToast } from "../ui";
import { ListPage } from "./ListPage";
import { fleetCall, useFleetNames, type SystemGroup } from "./FleetAccessShared";

export function SystemGroupsPage() {
  const s = useSession();
  const toast = useToast();
  const canWrite = s.can("FLEET_WRITE") && s.has("fleet.system_group.create");
  const [tick, setTick] = useState(0);
  const list = useAsync(() => fleetCall<SystemGroup[]>("fleet.system_group.query", [], { order_by: ["name"] }), [tick]);
  const names = useFleetNames([tick]);
  const n = names.data;
  return (
    <ListPage<SystemGroup>
      id="system-groups"
      title="System groups"
      caption="System groups"
      testid="system-groups-table"
      rowTestid={() => "system-group-row"}
      canWrite={canWrite}
      add={{ label: "Add system group", testid: "add-system-group" }}
      rows={list.data}
      loading={list.loading}
      error={list.error ?? names.error}
      onRetry={list.reload}
      rowKey={(g) => g.id}
      name={(g) => g.name}
      columns={[
        { key: "name", label: "Name", always: true, render: (g) => <strong>{g.name}</strong> },
        { key: "systems", label: "Systems", render: (g) => g.systems.map((id) => (n ? n.system(id) : id)).join(", ") || "—" },
      ]}
      empty="No system group yet."
      editor={(group, close) =>
        n && (
          <GroupDialog
            group={group}
            systems={n.systems}
            onClose={close}
            onSaved={(name) => {
              toast(`System group ${name} saved.`);
              close();
              setTick((x) => x + 1);
            }}
          />
        )
      }
      remove={{
        verb: "Delete",
        title: (g) => `Delete system group ${g.name}?`,
        body: <p>Every grant on this group (of users and teams) is removed with it.</p>,
        run: async (g) => {
          await fleetCall("fleet.system_group.delete", g.id);
          toast(`System group ${g.name} deleted.`);
          setTick((x) => x + 1);
        },
      }}
    />
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
