// Add / Edit user (seeds 000 and 001, reference §1.3–1.7): every field of user.create/update,
// with the username suggested from the full name, the next free UID, a new or existing primary
// group, auxiliary groups, the home directory (with a browser of the storage roots when the server
// has filesystem.listdir), home permissions, SSH keys (paste / load / validate / download), shell,
// sudo, SMB, Microsoft account and the administrator role. Server validation errors appear next
// to their fields.

import { useEffect, useMemo, useRef, useState, type ReactNode } from "react";
import { api, RpcError } from "../api";
import { navigate } from "../router";
import { useSession } from "../session";
import { checkSshKeys } from "../sshkey";
import { NewPasswordFields, useSubmit } from "../forms";
import { UserFleetAccess, fleetChanges, fleetOf, useFleetSections, type FleetValue } from "./UserFleetAccess";
import { knownPolicy, policyProblems } from "../password-check";
import { CORRECT_FIELDS, CheckField, ErrorBox, ErrorSummary, FieldError, FilterInput, Loading, SelectField, TextArea, TextField, downloadText, lines, useAsync, useToast } from "../ui";
import type { User } from "./Users";
import { HomeBrowser } from "./HomeBrowser";
import { EmailVerification } from "./EmailVerification";
import type { GroupEntry, Params, PrivilegeEntry } from "../api-types";

type Group = Pick<GroupEntry, "id" | "gid" | "name" | "builtin"> & Partial<Pick<GroupEntry, "local" | "roles">>;
type Privilege = PrivilegeEntry;
type UserCreate = Params<"user.create">[0];
type UserUpdate = NonNullable<Params<"user.update">[1]>;
/** What the form sends: all of user.update's fields, and user.create's when adding. */
type UserPayload = UserUpdate & Partial<UserCreate>;

const NO_HOME = "/var/empty";
const NOLOGIN = "/usr/sbin/nologin";
const ADMIN_GIDS: Record<number, string> = { 544: "Full administrator", 951: "Read-only administrator", 952: "Sharing administrator" };
/** The form's fields that server validation errors are shown next to. */
const KNOWN = [
  "full_name",
  "username",
  "email",
  "source",
  "ldap_username",
  "password",
  "password_disabled",
  "uid",
  "group",
  "group_create",
  "groups",
  "home",
  "home_create",
  "home_mode",
  "sshpubkey",
  "shell",
  "ssh_password_enabled",
  "locked",
  "sudo_commands",
  "sudo_commands_nopasswd",
  "smb",
  "microsoft_account",
  "teams",
  "systems",
  "system_groups",
];
/** Built-in groups a user may join (reference §1.3). */
const JOINABLE_BUILTIN_GIDS = new Set([14, 445, 544, 545, 568, 951, 952]);

interface FormState {
  full_name: string;
  username: string;
  email: string;
  password: string;
  confirm: string;
  password_disabled: boolean;
  uid: string;
  group_create: boolean;
  group: string;
  groups: number[];
  role: string; // group DB id as text, "" = none
  home: string;
  home_create: boolean;
  home_mode: string;
  sshpubkey: string;
  shell_access: boolean;
  shell: string;
  ssh_password_enabled: boolean;
  locked: boolean;
  sudo_all: boolean;
  sudo_commands: string;
  sudo_nopasswd_all: boolean;
  sudo_commands_nopasswd: string;
  smb: boolean;
  microsoft_account: boolean;
  /** A directory (LDAP) user: signs in with the directory's password, never a local one (issue 12). */
  directory: boolean;
  /** Seed 003's "LDAP or AD username": the name in the directory when it differs from username. */
  ldap_username: string;
}

type KeysOf<V> = { [K in keyof FormState]: FormState[K] extends V ? K : never }[keyof FormState];

function emptyForm(): FormState {
  return {
    full_name: "",
    username: "",
    email: "",
    password: "",
    confirm: "",
    password_disabled: false,
    uid: "",
    group_create: true,
    group: "",
    groups: [],
    role: "",
    home: NO_HOME,
    home_create: false,
    home_mode: "700",
    sshpubkey: "",
    shell_access: false,
    shell: NOLOGIN,
    ssh_password_enabled: false,
    locked: false,
    sudo_all: false,
    sudo_commands: "",
    sudo_nopasswd_all: false,
    sudo_commands_nopasswd: "",
    smb: true,
    microsoft_account: false,
    directory: false,
    ldap_username: "",
  };
}

function fromUser(u: User, roleGroupIds: Set<number>): FormState {
  const roleGroup = u.groups.find((g) => roleGroupIds.has(g));
  return {
    full_name: u.full_name ?? "",
    username: u.username,
    email: u.email ?? "",
    password: "",
    confirm: "",
    password_disabled: u.password_disabled,
    uid: String(u.uid),
    group_create: false,
    group: String(u.group?.id ?? ""),
    groups: u.groups.filter((g) => !roleGroupIds.has(g)),
    role: roleGroup !== undefined ? String(roleGroup) : "",
    home: u.home,
    home_create: false,
    // The user entry does not carry the home's mode: it is read from disk (filesystem.stat) once
    // the form is open, and sent back only when the administrator changes it.
    home_mode: "700",
    sshpubkey: u.sshpubkey ?? "",
    shell_access: u.shell !== NOLOGIN,
    shell: u.shell,
    ssh_password_enabled: u.ssh_password_enabled,
    locked: u.locked,
    sudo_all: u.sudo_commands.includes("ALL"),
    sudo_commands: u.sudo_commands.filter((c) => c !== "ALL").join("\n"),
    sudo_nopasswd_all: u.sudo_commands_nopasswd.includes("ALL"),
    sudo_commands_nopasswd: u.sudo_commands_nopasswd.filter((c) => c !== "ALL").join("\n"),
    smb: u.smb,
    microsoft_account: !!u.microsoft_account,
    directory: u.source === "LDAP",
    ldap_username: u.ldap_username ?? "",
  };
}

/** Local fallback when the server has no user.suggest_username: "Ada Lovelace" → "alovelace". */
export function localSuggest(fullName: string): string {
  const words = fullName
    .normalize("NFKD")
    .replace(/[\u0300-\u036f]/g, "")
    .toLowerCase()
    .split(/\s+/)
    .map((w) => w.replace(/[^a-z0-9_.-]/g, ""))
    .filter(Boolean);
  if (!words.length) return "";
  let name = words.length === 1 ? words[0] : words[0][0] + words[words.length - 1];
  if (!/^[a-z_]/.test(name)) name = `u${name}`;
  return name.slice(0, 32);
}

// ---------------------------------------------------------------------------------------------
// Home mode checkboxes

/**
 * The real mode of an existing home, read through filesystem.stat (null while loading, or when
 * it cannot be read), and a note for the form saying where the shown mode comes from.
 */
function useHomeMode(home: string | null): { mode: string | null; note: string } {
  const s = useSession();
  const readable = !!home && home !== NO_HOME && s.allowed("filesystem.stat", "FILESYSTEM_ATTRS_READ");
  const st = useAsync(async () => (readable ? api.call("filesystem.stat", home) : null), [home, readable]);
  if (!home || home === NO_HOME) return { mode: null, note: "" };
  if (!readable) return { mode: null, note: "The home directory's current permissions cannot be read with your roles; they are kept unless you change them here." };
  if (st.loading) return { mode: null, note: "Reading the home directory's current permissions…" };
  if (st.error || !st.data) return { mode: null, note: "The home directory's current permissions could not be read (it may not exist yet); they are kept unless you change them here." };
  const mode = (st.data.mode & 0o777).toString(8).padStart(3, "0");
  return { mode, note: `These are the home directory's current permissions on disk; they change only if you change them here.` };
}

function ModeGrid({ mode, onChange, disabled, note }: { mode: string; onChange: (m: string) => void; disabled?: boolean; note?: string }) {
  const value = parseInt(mode || "0", 8) || 0;
  const who = ["User", "Group", "Other"];
  const what: [string, number][] = [
    ["Read", 4],
    ["Write", 2],
    ["Execute", 1],
  ];
  return (
    <fieldset className="mode-grid" data-field="home_mode" tabIndex={-1}>
      <legend>Home directory permissions</legend>
      <table>
        <thead>
          <tr>
            <td />
            {what.map(([w]) => (
              <th key={w} scope="col">
                {w}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {who.map((w, i) => {
            const shift = (2 - i) * 3;
            return (
              <tr key={w}>
                <th scope="row">{w}</th>
                {what.map(([label, bit]) => {
                  const b = bit << shift;
                  return (
                    <td key={label}>
                      <input
                        type="checkbox"
                        aria-label={`${w} ${label}`}
                        checked={(value & b) !== 0}
                        disabled={disabled}
                        onChange={(e) => onChange(((e.target.checked ? value | b : value & ~b) & 0o777).toString(8).padStart(3, "0"))}
                      />
                    </td>
                  );
                })}
              </tr>
            );
          })}
        </tbody>
      </table>
      <div className="hint">
        Mode <code data-testid="home-mode">{mode}</code>
      </div>
      {note && (
        <div className="hint" data-testid="home-mode-note">
          {note}
        </div>
      )}
    </fieldset>
  );
}

// ---------------------------------------------------------------------------------------------
// Group multi-select

function GroupPicker({ groups, selected, onChange, errors }: { groups: Group[]; selected: number[]; onChange: (ids: number[]) => void; errors?: Record<string, string[]> }) {
  const [filter, setFilter] = useState("");
  const f = filter.trim().toLowerCase();
  const sel = new Set(selected);
  const shown = groups.filter((g) => !f || g.name.toLowerCase().includes(f)).slice(0, 300);
  const errs = errors?.groups;
  return (
    <fieldset className={`field group-picker ${errs ? "invalid" : ""}`} data-field="groups" tabIndex={-1}>
      <legend>Auxiliary groups</legend>
      <div className="chips" aria-live="polite">
        {selected.length === 0 && <span className="hint">None selected</span>}
        {selected.map((id) => {
          const g = groups.find((x) => x.id === id);
          return (
            <button type="button" key={id} className="chip" onClick={() => onChange(selected.filter((x) => x !== id))} aria-label={`Remove group ${g?.name ?? id}`}>
              {g?.name ?? id} ×
            </button>
          );
        })}
      </div>
      <FilterInput id="group-filter" label="Filter groups" value={filter} onValue={setFilter} />
      <div className="pick-list" role="group" aria-label="Groups">
        {shown.map((g) => (
          <label key={g.id} className="check">
            <input type="checkbox" checked={sel.has(g.id)} onChange={(e) => onChange(e.target.checked ? [...selected, g.id] : selected.filter((x) => x !== g.id))} /> {g.name}{" "}
            <span className="hint">({g.gid})</span>
          </label>
        ))}
        {groups.length > shown.length && <div className="hint">Type to find more groups…</div>}
      </div>
      {errs && (
        <div className="field-error" role="alert">
          {errs.map((e, i) => (
            <div key={i}>{e}</div>
          ))}
        </div>
      )}
    </fieldset>
  );
}

function Section({ title, children }: { title: string; children: ReactNode }) {
  return (
    <fieldset className="section">
      <legend>{title}</legend>
      {children}
    </fieldset>
  );
}

// ---------------------------------------------------------------------------------------------
// The form

export function UserForm({ id }: { id?: number }) {
  const s = useSession();
  const toast = useToast();
  const editing = id !== undefined;
  const canWrite = s.can("ACCOUNT_WRITE");
  const showRole = canWrite;

  const ctx = useAsync(async () => {
    const groupsP = api
      .select("group.query", [], ["id", "gid", "name", "builtin", "local", "roles"], { order_by: ["name"] })
      .catch((): Promise<Group[]> => api.query("group.query", [], { order_by: ["name"] }));
    const privP = s.allowed("privilege.query", "PRIVILEGE_READ") ? api.query("privilege.query").catch(() => [] as Privilege[]) : Promise.resolve([] as Privilege[]);
    const userP = editing ? api.query("user.query", [["id", "=", id]]).then((r) => r[0] ?? null) : Promise.resolve(null);
    const uidP = editing ? Promise.resolve(null) : api.call("user.get_next_uid").catch(() => null);
    const [groups, privileges, user, nextUid] = await Promise.all([groupsP, privP, userP, uidP]);
    return { groups, privileges, user, nextUid };
  }, [id]);

  if (ctx.loading && !ctx.data) return <Loading />;
  if (ctx.error || !ctx.data) return <ErrorBox error={ctx.error ?? new Error("Could not load the form")} onRetry={ctx.reload} />;
  if (editing && !ctx.data.user)
    return (
      <section className="page">
        <h1>Edit user</h1>
        <p className="alert error">User {id} does not exist.</p>
      </section>
    );
  return <UserFormInner {...ctx.data} id={id} showRole={showRole} readOnly={!canWrite} toast={toast} />;
}

function UserFormInner(props: {
  id?: number;
  groups: Group[];
  privileges: Privilege[];
  user: User | null;
  nextUid: number | null;
  showRole: boolean;
  readOnly: boolean;
  toast: (t: string, k?: "ok" | "error") => void;
}) {
  const s = useSession();
  const { groups, privileges, user } = props;
  const editing = !!user;
  const immutable = !!user?.immutable;

  // Administrator role options: the three built-in admin groups, then custom privileges' groups.
  const roleOptions = useMemo(() => {
    const opts: { id: number; label: string }[] = [];
    for (const [gid, label] of Object.entries(ADMIN_GIDS)) {
      const g = groups.find((x) => x.gid === Number(gid));
      if (g) opts.push({ id: g.id, label: `${label} (${g.name})` });
    }
    for (const p of privileges) {
      if (p.builtin_name) continue;
      for (const lg of p.local_groups ?? []) {
        const g = groups.find((x) => x.gid === lg.gid);
        if (g && !opts.some((o) => o.id === g.id)) opts.push({ id: g.id, label: `${p.name} (group ${g.name})` });
      }
    }
    return opts;
  }, [groups, privileges]);
  const roleGroupIds = useMemo(() => new Set(props.showRole ? roleOptions.map((o) => o.id) : []), [roleOptions, props.showRole]);

  const initial = useMemo(() => {
    if (user) return fromUser(user, roleGroupIds);
    const f = emptyForm();
    if (props.nextUid !== null) f.uid = String(props.nextUid);
    return f;
  }, [user, roleGroupIds, props.nextUid]);
  const [f, setF] = useState<FormState>(initial);
  const set = <K extends keyof FormState>(k: K, v: FormState[K]) => setF((x) => ({ ...x, [k]: v }));
  // Controls are named after their key in the form state: the server reports errors under the same names.
  const field = (k: KeysOf<string>) => ({ name: k, value: f[k], onValue: (v: string) => set(k, v) });
  const checkbox = (k: KeysOf<boolean>) => ({ name: k, checked: f[k], onValue: (v: boolean) => set(k, v) });
  const { errs, busy, onSubmit } = useSubmit(KNOWN);
  const fleetSections = useFleetSections();
  const [fleet, setFleet] = useState<FleetValue>(() => fleetOf(user));
  const [browse, setBrowse] = useState(false);
  const disk = useHomeMode(editing ? user!.home : null);
  const modeTouched = useRef(false);
  useEffect(() => {
    if (disk.mode && !modeTouched.current) setF((x) => ({ ...x, home_mode: disk.mode! }));
  }, [disk.mode]);
  const [keyCheck, setKeyCheck] = useState<ReturnType<typeof checkSshKeys> | null>(null);
  const usernameTouched = useRef(editing);
  const fileRef = useRef<HTMLInputElement>(null);

  // Username suggested from the full name (user.suggest_username, else a local rule).
  useEffect(() => {
    if (usernameTouched.current || !f.full_name.trim()) return;
    const t = setTimeout(async () => {
      let name = "";
      if (s.has("user.suggest_username")) {
        try {
          name = await api.call("user.suggest_username", f.full_name);
        } catch {
          name = localSuggest(f.full_name);
        }
      } else name = localSuggest(f.full_name);
      if (!usernameTouched.current) setF((x) => ({ ...x, username: name }));
    }, 250);
    return () => clearTimeout(t);
  }, [f.full_name, s]);

  // Shell choices depend on the groups (the CLI shells need a privileged group).
  const groupIdsForShell = useMemo(() => {
    const ids = [...f.groups];
    if (f.role) ids.push(Number(f.role));
    if (!f.group_create && f.group) ids.push(Number(f.group));
    return ids;
  }, [f.groups, f.role, f.group, f.group_create]);
  const shells = useAsync(() => api.call("user.shell_choices", groupIdsForShell), [JSON.stringify(groupIdsForShell)]);
  const shellList = Object.entries(shells.data ?? {});
  useEffect(() => {
    if (!f.shell_access || !shells.data) return;
    if (f.shell === NOLOGIN || !(f.shell in shells.data)) {
      const pref = ["/usr/bin/zsh", "/usr/bin/bash", "/bin/bash"].find((p) => p in shells.data!) ?? shellList.find(([p]) => p !== NOLOGIN)?.[0];
      if (pref) set("shell", pref);
    }
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [f.shell_access, shells.data]);

  const auxGroups = useMemo(() => groups.filter((g) => (!g.builtin || JOINABLE_BUILTIN_GIDS.has(g.gid)) && g.local !== false && !roleGroupIds.has(g.id)), [groups, roleGroupIds]);
  const primaryChoices = useMemo(() => groups.filter((g) => g.local !== false), [groups]);
  const showShell = f.shell_access || f.ssh_password_enabled || !!f.sshpubkey.trim();
  const msAccepted = !s.methodAccepts("user.create", 0, "username") || s.methodAccepts("user.create", 0, "microsoft_account");
  // Directory users (issue 12): pre-created to grant access before the first sign-in, or edited.
  const directoryAccepted = editing ? f.directory : s.methodAccepts("user.create", 0, "source");
  const noLocalPassword = f.password_disabled || f.directory;

  const buildPayload = (): UserPayload => {
    const sudo = f.password_disabled ? [] : f.sudo_all ? ["ALL"] : lines(f.sudo_commands);
    const nopw = f.password_disabled ? [] : f.sudo_nopasswd_all ? ["ALL"] : lines(f.sudo_commands_nopasswd);
    const ldapName = f.directory ? f.ldap_username.trim() || null : null;
    let groupsOut = [...f.groups];
    if (props.showRole) {
      const initialRole = initial.role;
      const keepOther = (user?.groups ?? []).filter((g) => roleGroupIds.has(g) && String(g) !== initialRole);
      groupsOut = [...groupsOut, ...keepOther];
      if (f.role) groupsOut.push(Number(f.role));
    }
    groupsOut = [...new Set(groupsOut)];
    const full: UserPayload = {
      full_name: f.full_name,
      username: f.username,
      email: f.email.trim() || null,
      password_disabled: f.password_disabled,
      groups: groupsOut,
      home: f.home.trim() || NO_HOME,
      home_create: f.home_create,
      home_mode: f.home_mode,
      sshpubkey: f.sshpubkey.trim() || null,
      shell: f.shell_access || f.ssh_password_enabled ? f.shell : NOLOGIN,
      ssh_password_enabled: f.ssh_password_enabled,
      locked: f.password_disabled ? false : f.locked,
      sudo_commands: sudo,
      sudo_commands_nopasswd: nopw,
      smb: f.directory ? false : f.smb,
    };
    if (msAccepted) full.microsoft_account = f.microsoft_account;
    if (!noLocalPassword && f.password) full.password = f.password;
    if (!editing) {
      if (f.directory) {
        full.source = "LDAP";
        full.ldap_username = ldapName;
      }
      if (f.uid.trim()) full.uid = Number(f.uid);
      if (f.group_create) full.group_create = true;
      else full.group = f.group ? Number(f.group) : null;
      if (full.home === NO_HOME) {
        delete full.home_mode;
        delete full.home_create;
      }
      return full;
    }
    // Update: send what changed (sending `home` re-runs the home checks; immutable accounts may
    // not send home_mode at all).
    const before = fromUser(user!, roleGroupIds);
    const out: UserPayload = {};
    const changed = (k: keyof FormState) => JSON.stringify(before[k]) !== JSON.stringify(f[k]);
    if (changed("full_name")) out.full_name = full.full_name;
    if (changed("username")) out.username = full.username;
    if (changed("email")) out.email = full.email;
    if (f.directory && f.ldap_username.trim() !== (user!.ldap_username ?? "")) out.ldap_username = ldapName;
    if (changed("password_disabled")) out.password_disabled = full.password_disabled;
    if (full.password) out.password = full.password;
    if (JSON.stringify([...user!.groups].sort()) !== JSON.stringify([...groupsOut].sort())) out.groups = groupsOut;
    if (changed("group")) out.group = f.group ? Number(f.group) : null;
    if (changed("home") || f.home_create) {
      out.home = full.home;
      out.home_create = f.home_create;
    }
    // The mode goes to the server only when the administrator changed it — or when the home
    // moves, with the mode read from disk, so that the moved home keeps it.
    if (!immutable && full.home !== NO_HOME) {
      if (modeTouched.current) out.home_mode = f.home_mode;
      else if (out.home !== undefined && disk.mode) out.home_mode = disk.mode;
    }
    if (changed("sshpubkey")) out.sshpubkey = f.sshpubkey.trim() ? f.sshpubkey.trim() : "";
    if (full.shell !== user!.shell) out.shell = full.shell;
    if (changed("ssh_password_enabled")) out.ssh_password_enabled = f.ssh_password_enabled;
    if (full.locked !== user!.locked) out.locked = full.locked;
    if (JSON.stringify(sudo) !== JSON.stringify(user!.sudo_commands)) out.sudo_commands = sudo;
    if (JSON.stringify(nopw) !== JSON.stringify(user!.sudo_commands_nopasswd)) out.sudo_commands_nopasswd = nopw;
    if (changed("smb")) out.smb = f.smb;
    if (msAccepted && changed("microsoft_account")) out.microsoft_account = f.microsoft_account;
    return out;
  };

  const check = () => {
    // What the browser can tell before asking the server, in the order of the form's fields.
    const local: Record<string, string[]> = {};
    if (!f.full_name.trim()) local.full_name = ["Enter the full name."];
    if (!f.username.trim()) local.username = ["Enter a username."];
    if (!noLocalPassword && !editing && !f.password) local.password = ["Enter a password, or check “Disable password”."];
    const weak = noLocalPassword ? [] : policyProblems(f.password, knownPolicy());
    if (weak.length) local.password = weak;
    if (!noLocalPassword && (f.password || f.confirm) && f.password !== f.confirm) local.confirm = ["The passwords do not match."];
    if (!f.group_create && !f.group && !editing) local.group = ["Choose a primary group, or create a new one."];
    if (f.sshpubkey.trim() && (f.home.trim() || NO_HOME) === NO_HOME) local.sshpubkey = ["An SSH key needs a home directory inside a storage root. Choose one above."];
    if (f.password_disabled && f.smb && !immutable) local.smb = ["SMB users need a password: uncheck “Disable password” or “SMB user”."];
    if (!Object.keys(local).length) return true;
    for (const [k, v] of Object.entries(local)) errs.setField(k, v);
    errs.setGeneral(CORRECT_FIELDS);
    requestAnimationFrame(() => document.querySelector<HTMLElement>(`[data-field="${Object.keys(local)[0]}"]`)?.focus());
    return false;
  };
  const submit = onSubmit(
    async () => {
      const payload = { ...buildPayload(), ...fleetChanges(fleet, user, fleetSections.canWrite) } as UserPayload;
      try {
        if (editing) {
          if (Object.keys(payload).length) await api.call("user.update", user!.id, payload);
          props.toast(`User ${f.username} saved.`);
        } else {
          await api.call("user.create", { ...payload, username: f.username, full_name: f.full_name });
          props.toast(`User ${f.username} created.`);
        }
      } catch (err) {
        // Keep the shell row visible when it has an error.
        if (err instanceof RpcError && err.isValidation && err.fieldErrors().shell) set("shell_access", true);
        throw err;
      }
      navigate("/users");
    },
    { check },
  );

  const E = errs.fields;
  const ro = props.readOnly;
  return (
    <section className="page user-form" aria-labelledby="uf-h">
      <div className="page-head">
        <h1 id="uf-h">{editing ? `Edit user ${user!.username}` : "Add user"}</h1>
      </div>
      {immutable && <p className="alert info">This is a built-in or protected account: its username, primary group, home directory and SMB setting cannot change.</p>}
      <form onSubmit={submit} noValidate data-testid="user-form">
        <ErrorSummary general={errs.general} summaryRef={errs.summaryRef} />
        <fieldset disabled={ro || busy} className="plain">
          <Section title="Identification">
            <div className="grid2">
              <TextField label="Full name" {...field("full_name")} required errors={E} autoComplete="off" />
              <TextField
                label="Username"
                name="username"
                required
                value={f.username}
                disabled={immutable}
                onValue={(v) => {
                  usernameTouched.current = true;
                  set("username", v);
                }}
                errors={E}
                autoComplete="off"
                autoCapitalize="none"
                spellCheck={false}
                hint={!editing ? "Suggested from the full name; you can change it." : undefined}
              />
              <TextField label="Email" {...field("email")} type="email" errors={E} autoComplete="off" />
              {editing && user!.email && <EmailVerification user={user!} canWrite={!props.readOnly} />}
              {directoryAccepted && (
                <CheckField
                  label="Directory (LDAP) user"
                  {...checkbox("directory")}
                  disabled={editing}
                  errors={E}
                  hint="Signs in with the directory's password (Directory services); no local password. Add one here to grant access before the first sign-in."
                />
              )}
              {f.directory && (
                <TextField
                  label="LDAP or AD username"
                  {...field("ldap_username")}
                  errors={E}
                  autoComplete="off"
                  autoCapitalize="none"
                  spellCheck={false}
                  hint="Optional: the name in the directory, when it differs from the username above."
                />
              )}
              {!editing && <TextField label="UID" {...field("uid")} type="number" min={0} errors={E} hint="The next free UID is suggested." />}
              {editing && (
                <div className="field">
                  <span className="label">UID</span>
                  <div className="static">{user!.uid}</div>
                </div>
              )}
            </div>
          </Section>

          <Section title="Password">
            {f.directory && <p className="hint">A directory user's password lives in the directory: it is checked there and changed there.</p>}
            {!f.directory && <CheckField label="Disable password" {...checkbox("password_disabled")} errors={E} hint="No password-based logins (SMB, SSH, web). Also removes “Lock user” and sudo." />}
            {!noLocalPassword && (
              <div className="grid2" data-testid="password-fields">
                <NewPasswordFields
                  pair={{ value: f.password, setValue: (v) => set("password", v), confirm: f.confirm, setConfirm: (v) => set("confirm", v) }}
                  errors={E}
                  name="password"
                  label={editing ? "New password" : "Password"}
                  confirmLabel="Confirm password"
                  userInputs={[f.username, f.full_name, f.email]}
                  required={!editing}
                  hint={editing ? "Leave empty to keep the current password." : undefined}
                />
              </div>
            )}
          </Section>

          <Section title="Groups and role">
            {!editing && (
              <div className="radio-row" role="radiogroup" aria-label="Primary group">
                <label className="check">
                  <input type="radio" name="pg" checked={f.group_create} onChange={() => set("group_create", true)} data-testid="group-create-new" /> Create a new primary group named after the user
                </label>
                <label className="check">
                  <input type="radio" name="pg" checked={!f.group_create} onChange={() => set("group_create", false)} data-testid="group-existing" /> Use an existing group
                </label>
              </div>
            )}
            {(!f.group_create || editing) && (
              <SelectField label="Primary group" {...field("group")} errors={E} disabled={immutable}>
                <option value="">Choose a group</option>
                {primaryChoices.map((g) => (
                  <option key={g.id} value={g.id}>
                    {g.name} ({g.gid})
                  </option>
                ))}
              </SelectField>
            )}
            {E.group_create && <div className="field-error">{E.group_create.join(" ")}</div>}
            <GroupPicker groups={auxGroups} selected={f.groups} onChange={(ids) => set("groups", ids)} errors={E} />
            {props.showRole && (
              <SelectField label="Administrator role" {...field("role")} errors={E} hint="Makes the account a member of the group linked to the role's privilege.">
                <option value="">None (regular user)</option>
                {roleOptions.map((o) => (
                  <option key={o.id} value={o.id}>
                    {o.label}
                  </option>
                ))}
              </SelectField>
            )}
          </Section>

          <Section title="Home directory">
            <div className="row end">
              <TextField className="grow" label="Home directory" {...field("home")} errors={E} disabled={immutable} spellCheck={false} hint={`Inside a storage root, or ${NO_HOME} for none.`} />
              {s.has("filesystem.listdir") && !immutable && (
                <button type="button" onClick={() => setBrowse(true)} data-testid="browse-home" aria-haspopup="dialog">
                  Browse…
                </button>
              )}
            </div>
            {browse && (
              <HomeBrowser
                value={f.home && f.home !== NO_HOME ? f.home : ""}
                canCreate={s.has("filesystem.mkdir") && (s.can("ACCOUNT_WRITE") || s.can("FILESYSTEM_DATA_WRITE"))}
                onClose={() => setBrowse(false)}
                onPick={(p) => {
                  set("home", p);
                  setBrowse(false);
                }}
              />
            )}
            <CheckField
              label="Create home directory"
              {...checkbox("home_create")}
              errors={E}
              disabled={immutable}
              hint="A directory named after the user is created inside the path, unless the path already ends with the username."
            />
            {!immutable && (
              <ModeGrid
                mode={f.home_mode}
                onChange={(m) => {
                  modeTouched.current = true;
                  set("home_mode", m);
                }}
                note={editing ? disk.note : undefined}
              />
            )}
            <FieldError errors={E.home_mode} />
          </Section>

          <Section title="Shell and SSH">
            <CheckField label="Shell access" {...checkbox("shell_access")} hint="Without it the shell is nologin." />
            <CheckField label="Allow SSH login with password" {...checkbox("ssh_password_enabled")} errors={E} hint="Needs a home directory and a login shell." />
            {showShell && (
              <SelectField label="Shell" {...field("shell")} errors={E}>
                {!shellList.some(([p]) => p === f.shell) && <option value={f.shell}>{f.shell}</option>}
                {shellList.map(([p, label]) => (
                  <option key={p} value={p}>
                    {label} ({p})
                  </option>
                ))}
              </SelectField>
            )}
            <TextArea
              label="SSH public key"
              name="sshpubkey"
              rows={3}
              className="mono"
              placeholder="ssh-ed25519 AAAA… user@host"
              value={f.sshpubkey}
              onValue={(v) => {
                set("sshpubkey", v);
                setKeyCheck(null);
              }}
              errors={E}
              hint="Paste one or more OpenSSH public keys, one per line."
            />
            <div className="row">
              <button type="button" onClick={() => fileRef.current?.click()}>
                Load from file…
              </button>
              <input
                ref={fileRef}
                type="file"
                accept=".pub,.txt,text/plain"
                hidden
                onChange={async (e) => {
                  const file = e.target.files?.[0];
                  if (file) {
                    const text = await file.text();
                    set("sshpubkey", text.trim());
                    setKeyCheck(checkSshKeys(text));
                  }
                  e.target.value = "";
                }}
              />
              <button type="button" disabled={!f.sshpubkey.trim()} onClick={() => setKeyCheck(checkSshKeys(f.sshpubkey))} data-testid="validate-key">
                Validate key
              </button>
              <button type="button" disabled={!f.sshpubkey.trim()} onClick={() => downloadText(`${f.username || "user"}_public_key.txt`, f.sshpubkey.trim() + "\n")} data-testid="download-key">
                Download as .txt
              </button>
            </div>
            {keyCheck && (
              <div className={`alert ${keyCheck.ok ? "ok" : "error"}`} role="status" data-testid="key-check">
                {keyCheck.ok ? `Valid: ${keyCheck.keys.length} key${keyCheck.keys.length > 1 ? "s" : ""} (${keyCheck.keys.map((k) => k.type).join(", ")})` : keyCheck.errors.join("; ")}
              </div>
            )}
          </Section>

          <Section title="Access">
            {!f.password_disabled && <CheckField label="Lock user" {...checkbox("locked")} errors={E} hint="Disables all password-based logins until unlocked." />}
            {!f.directory && <CheckField label="SMB user" {...checkbox("smb")} errors={E} disabled={immutable} hint="Use these credentials for SMB shares (needs a password)." />}
            <CheckField label="Microsoft account" {...checkbox("microsoft_account")} errors={E} hint="The user signs in from Windows 8 or newer with a Microsoft account." />
            {!f.password_disabled && (
              <div className="sudo" data-testid="sudo-fields">
                <CheckField label="Allow all sudo commands" {...checkbox("sudo_all")} />
                {!f.sudo_all && <TextArea label="Allowed sudo commands" {...field("sudo_commands")} rows={2} className="mono" errors={E} hint="One absolute command path per line." />}
                <CheckField label="Allow all sudo commands with no password" {...checkbox("sudo_nopasswd_all")} />
                {!f.sudo_nopasswd_all && <TextArea label="Allowed sudo commands with no password" {...field("sudo_commands_nopasswd")} rows={2} className="mono" errors={E} />}
              </div>
            )}
          </Section>
          {fleetSections.show && <UserFleetAccess value={fleet} onChange={setFleet} errors={E} disabled={!fleetSections.canWrite} />}
        </fieldset>
        <div className="actions sticky">
          <button type="button" onClick={() => navigate("/users")}>
            Cancel
          </button>
          {!ro && (
            <button type="submit" className="primary" disabled={busy} data-testid="save-user">
              {busy ? "Saving…" : editing ? "Save" : "Create user"}
            </button>
          )}
        </div>
      </form>
    </section>
  );
}
