// Teams (issue 11 point 8): members and their access to systems and system groups. A team's
// grants reach every member (levels 3 and 4 of the precedence rule). Editing needs FLEET_WRITE;
// the server refuses a grant the editor does not hold itself.

import { useState } from "react";
import { useSession } from "../session";
import { FormDialog, useSubmit } from "../forms";
import { TextField, useAsync, useToast } from "../ui";
import { ListPage } from "./ListPage";
import { MembersPicker } from "../members-picker";
import { GrantRows } from "./UserFleetAccess";
import { accessLabel, fleetCall, useFleetNames, type Team } from "./FleetAccessShared";

export function TeamsPage() {
  const s = useSession();
  const toast = useToast();
  const canWrite = s.can("FLEET_WRITE") && s.has("team.create");
  const [tick, setTick] = useState(0);
  const list = useAsync(() => fleetCall<Team[]>("team.query", [], { order_by: ["name"] }), [tick]);
  const names = useFleetNames([tick]);
  const n = names.data;
  return (
    <ListPage<Team>
      id="teams"
      title="Teams"
      caption="Teams"
      testid="teams-table"
      rowTestid={() => "team-row"}
      hint="A team's access reaches each of its members, unless the member's own grant on the system (or on a group containing it) decides first."
      canWrite={canWrite}
      add={{ label: "Add team", testid: "add-team" }}
      rows={list.data}
      loading={list.loading}
      error={list.error ?? names.error}
      onRetry={list.reload}
      rowKey={(t) => t.id}
      name={(t) => t.name}
      columns={[
        { key: "name", label: "Name", always: true, render: (t) => <strong>{t.name}</strong> },
        { key: "members", label: "Members", render: (t) => (n ? t.members.map(n.user).join(", ") || "—" : t.members.length) },
        { key: "systems", label: "Systems", render: (t) => t.systems.map((x) => `${n ? n.system(x.system) : x.system} (${accessLabel(x.access)})`).join(", ") || "—" },
        { key: "groups", label: "System groups", render: (t) => t.system_groups.map((x) => `${n ? n.group(x.system_group) : x.system_group} (${accessLabel(x.access)})`).join(", ") || "—" },
      ]}
      empty="No team yet."
      editor={(team, close) =>
        n && (
          <TeamDialog
            team={team}
            names={n}
            onClose={close}
            onSaved={(name) => {
              toast(`Team ${name} saved.`);
              close();
              setTick((x) => x + 1);
            }}
          />
        )
      }
      remove={{
        verb: "Delete",
        title: (t) => `Delete team ${t.name}?`,
        body: <p>Its members lose the access the team gave them.</p>,
        run: async (t) => {
          await fleetCall("team.delete", t.id);
          toast(`Team ${t.name} deleted.`);
          setTick((x) => x + 1);
        },
      }}
    />
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
