// "My systems" (issue 11 point 8): for a user who reaches systems through the fleet — the systems
// they may see with their access, and for each the system's users and groups, read through the
// proxy (fleet.call). Write controls (add a user, delete a user) appear only where their access is
// READ_WRITE; the proxy refuses writes to READ callers anyway. Beside each access, "Why?" opens
// its explanation (fleet.access.explain of the signed-in user and the system).

import { useState } from "react";
import { api } from "../api";
import { Link } from "../router";
import { FormDialog, useSubmit } from "../forms";
import { ConfirmDialog, ErrorBox, TextField, useAsync, useToast } from "../ui";
import { useSession } from "../session";
import { StatusDot, listSystems, type FleetSystem } from "./Systems";
import { WhyAccess } from "./FleetAccessShared";
import { RowMenu } from "../table";

const ACCESS_WORDS = { NONE: "No access", READ: "Read", READ_WRITE: "Read/write" } as const;

export function MySystemsPage() {
  const me = useSession().me?.pw_name;
  const list = useAsync(listSystems, []);
  return (
    <section className="page" aria-labelledby="mysys-h">
      <h1 id="mysys-h">My systems</h1>
      <p className="hint">The systems you have access to. Open one to see its users and groups.</p>
      <ErrorBox error={list.error} onRetry={list.reload} />
      <table className="data" data-testid="my-systems-table">
        <caption className="sr-only">Systems you have access to</caption>
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Your access</th>
            <th scope="col">Status</th>
          </tr>
        </thead>
        <tbody>
          {(list.data ?? []).map((sys) => (
            <tr key={sys.id}>
              <td>
                <Link to={`/my-systems/${sys.id}`} data-testid={`open-system-${sys.name}`}>
                  {sys.name}
                </Link>
              </td>
              <td>
                <span data-testid={`access-${sys.name}`}>{ACCESS_WORDS[sys.access]}</span>
                {me && <WhyAccess user={me} system={sys.id} label={`your access to ${sys.name}`} />}
              </td>
              <td>
                <StatusDot status={sys.status} />
              </td>
            </tr>
          ))}
          {list.data && !list.data.length && (
            <tr>
              <td colSpan={3}>You have no access to any system.</td>
            </tr>
          )}
        </tbody>
      </table>
    </section>
  );
}

interface RemoteUser {
  id: number;
  username: string;
  full_name: string;
  uid: number;
  builtin: boolean;
  locked: boolean;
}

interface RemoteGroup {
  id: number;
  name: string;
  gid: number;
  builtin: boolean;
}

const remote = (id: number, method: string, params: unknown[]) => api.callOptional("fleet.call", id, method, params);

export function SystemBrowserPage({ id }: { id: number }) {
  const toast = useToast();
  const me = useSession().me?.pw_name;
  const [tick, setTick] = useState(0);
  const [adding, setAdding] = useState(false);
  const [deleting, setDeleting] = useState<RemoteUser | null>(null);
  const sys = useAsync(async () => (await api.callOptional("fleet.system.get_instance", id)) as FleetSystem, [id]);
  const users = useAsync(async () => (await remote(id, "user.query", [[["builtin", "=", false]], { order_by: ["username"], limit: 500 }])) as RemoteUser[], [id, tick]);
  const groups = useAsync(async () => (await remote(id, "group.query", [[["builtin", "=", false]], { order_by: ["name"], limit: 500 }])) as RemoteGroup[], [id, tick]);
  const canWrite = sys.data?.access === "READ_WRITE";
  return (
    <section className="page" aria-labelledby="browse-h">
      <p>
        <Link to="/my-systems">← My systems</Link>
      </p>
      <div className="page-head">
        <h1 id="browse-h">{sys.data?.name ?? "System"}</h1>
        {canWrite && (
          <button type="button" className="primary" onClick={() => setAdding(true)} data-testid="remote-add-user">
            Add user
          </button>
        )}
      </div>
      <ErrorBox error={sys.error} />
      {sys.data && (
        <>
          <p data-testid="system-access">
            Your access: <strong>{ACCESS_WORDS[sys.data.access]}</strong> · <StatusDot status={sys.data.status} />
          </p>
          {me && <WhyAccess user={me} system={id} label={`your access to ${sys.data.name}`} />}
        </>
      )}
      <h2>Users</h2>
      <ErrorBox error={users.error} onRetry={users.reload} />
      <table className="data" data-testid="remote-users">
        <caption className="sr-only">Users on {sys.data?.name}</caption>
        <thead>
          <tr>
            <th scope="col">Username</th>
            <th scope="col">Full name</th>
            <th scope="col">UID</th>
            {canWrite && <th scope="col">Actions</th>}
          </tr>
        </thead>
        <tbody>
          {(users.data ?? []).map((u) => (
            <tr key={u.id} data-testid={`remote-user-${u.username}`}>
              <td>{u.username}</td>
              <td>{u.full_name}</td>
              <td>{u.uid}</td>
              {canWrite && (
                <td className="actions-col">
                  <RowMenu name={u.username} actions={[{ label: "Delete", danger: true, onSelect: () => setDeleting(u) }]} />
                </td>
              )}
            </tr>
          ))}
          {users.data && !users.data.length && (
            <tr>
              <td colSpan={canWrite ? 4 : 3}>No local users besides the built-in ones.</td>
            </tr>
          )}
        </tbody>
      </table>
      <h2>Groups</h2>
      <ErrorBox error={groups.error} onRetry={groups.reload} />
      <table className="data" data-testid="remote-groups">
        <caption className="sr-only">Groups on {sys.data?.name}</caption>
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">GID</th>
          </tr>
        </thead>
        <tbody>
          {(groups.data ?? []).map((g) => (
            <tr key={g.id}>
              <td>{g.name}</td>
              <td>{g.gid}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {adding && (
        <RemoteUserDialog
          systemId={id}
          onClose={() => setAdding(false)}
          onSaved={(n) => {
            toast(`User ${n} created on ${sys.data?.name}.`);
            setAdding(false);
            setTick((t) => t + 1);
          }}
        />
      )}
      {deleting && (
        <ConfirmDialog
          title={`Delete user ${deleting.username} on ${sys.data?.name}?`}
          confirmLabel="Delete"
          danger
          onClose={() => setDeleting(null)}
          onConfirm={async () => {
            await remote(id, "user.delete", [deleting.id]);
            toast(`User ${deleting.username} deleted.`);
            setTick((t) => t + 1);
          }}
        >
          <p>The account is removed from that system.</p>
        </ConfirmDialog>
      )}
    </section>
  );
}

function RemoteUserDialog({ systemId, onClose, onSaved }: { systemId: number; onClose: () => void; onSaved: (name: string) => void }) {
  const [username, setUsername] = useState("");
  const [fullName, setFullName] = useState("");
  const [password, setPassword] = useState("");
  const { errs, busy, onSubmit } = useSubmit(["username", "full_name", "password"]);
  const submit = onSubmit(async () => {
    await remote(systemId, "user.create", [{ username, full_name: fullName || username, password, group_create: true, smb: false }]);
    onSaved(username);
  });
  return (
    <FormDialog title="Add user on the system" onClose={onClose} onSubmit={submit} errs={errs} busy={busy} testid="remote-user-dialog" submitLabel="Create" submitTestid="remote-user-save">
      <TextField label="Username" name="username" required value={username} onValue={setUsername} errors={errs.fields} />
      <TextField label="Full name" name="full_name" value={fullName} onValue={setFullName} errors={errs.fields} />
      <TextField label="Password" name="password" type="password" autoComplete="new-password" required value={password} onValue={setPassword} errors={errs.fields} />
    </FormDialog>
  );
}
