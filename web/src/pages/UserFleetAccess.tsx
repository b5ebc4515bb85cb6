// The user form's fleet sections (seeds 002/003, issue 11 point 8): Teams, System Access (ADD
// SYSTEM, read or read/write, minus to remove) and System Groups (ADD GROUP). Shown to sessions
// that may read the fleet; editable with FLEET_WRITE (the server checks that too, and that a
// FLEET_WRITE caller grants only access it holds). Each saved system row of an existing user has
// its "Why?" (issue 11 point 6: the explanation beside every user × system pair).

import { type ReactNode, useEffect, useState } from "react";
import { api } from "../api";
import { useSession } from "../session";
import { FieldError, type FieldErrors } from "../ui";
import { WhyAccess } from "./FleetAccessShared";

export type Access = "READ" | "READ_WRITE";
export interface FleetValue {
  teams: number[];
  systems: { system: number; access: Access }[];
  system_groups: { system_group: number; access: Access }[];
  /** The user these fields belong to (an existing user; never sent), and the systems as saved. */
  saved?: { user: number; systems: { system: number; access: Access }[] };
}
type Named = { id: number; name: string };

export const EMPTY_FLEET: FleetValue = { teams: [], systems: [], system_groups: [] };

/** The fleet fields of a user entry (absent on servers without them: empty). */
export function fleetOf(user: unknown): FleetValue {
  const u = (user ?? {}) as Partial<FleetValue> & { id?: number };
  const value: FleetValue = { teams: [...(u.teams ?? [])], systems: [...(u.systems ?? [])], system_groups: [...(u.system_groups ?? [])] };
  if (typeof u.id === "number") value.saved = { user: u.id, systems: [...value.systems] };
  return value;
}

/** The fields to send: all of them when adding, the changed ones when editing; none without FLEET_WRITE. */
export function fleetChanges(v: FleetValue, user: unknown, canWrite: boolean): Partial<FleetValue> {
  if (!canWrite) return {};
  const before = user ? fleetOf(user) : EMPTY_FLEET;
  const out: Partial<FleetValue> = {};
  const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
  if (!user || !same([...v.teams].sort(), [...before.teams].sort())) out.teams = v.teams;
  if (!user || !same(v.systems, before.systems)) out.systems = v.systems.filter((s) => s.system > 0);
  if (!user || !same(v.system_groups, before.system_groups)) out.system_groups = v.system_groups.filter((g) => g.system_group > 0);
  return out;
}

/** Whether the session sees the fleet sections at all. */
export function useFleetSections(): { show: boolean; canWrite: boolean } {
  const s = useSession();
  const show = s.has("team.query") && s.has("fleet.system_group.query");
  return { show, canWrite: show && s.can("FLEET_WRITE") && s.has("team.update") };
}

function AccessChoice({ name, value, onChange, label }: { name: string; value: Access; onChange: (a: Access) => void; label: string }) {
  return (
    <span className="access-choice" role="radiogroup" aria-label={`Access to ${label}`}>
      <label>
        <input type="radio" name={name} checked={value === "READ"} onChange={() => onChange("READ")} /> Read
      </label>
      <label>
        <input type="radio" name={name} checked={value === "READ_WRITE"} onChange={() => onChange("READ_WRITE")} /> Read/write
      </label>
    </span>
  );
}

export function GrantRows<K extends "system" | "system_group">(props: {
  kind: K;
  title: string;
  addLabel: string;
  rows: ({ access: Access } & Record<K, number>)[];
  choices: Named[];
  onChange: (rows: ({ access: Access } & Record<K, number>)[]) => void;
  errors: FieldErrors;
  testid: string;
  /** Shown at the end of a row whose target is chosen (the user form: the pair's explanation). */
  why?: (target: number, name: string) => ReactNode;
}) {
  const { kind, rows, choices } = props;
  const field = kind === "system" ? "systems" : "system_groups";
  const used = new Set<number>(rows.map((r) => Number(r[kind])));
  const update = (i: number, patch: Partial<{ access: Access } & Record<K, number>>) => props.onChange(rows.map((r, j) => (j === i ? { ...r, ...patch } : r)));
  return (
    <fieldset className="section fleet-grants" data-field={field} tabIndex={-1} data-testid={props.testid}>
      <legend>{props.title}</legend>
      {rows.length === 0 && <p className="hint">None.</p>}
      <ul className="grant-rows">
        {rows.map((r, i) => {
          const name = choices.find((c) => c.id === Number(r[kind]))?.name ?? "";
          return (
            <li key={i} data-testid={`${props.testid}-row`}>
              <label className="sr-only" htmlFor={`${props.testid}-${i}`}>
                {kind === "system" ? "System" : "System group"} {i + 1}
              </label>
              <select id={`${props.testid}-${i}`} value={r[kind] || ""} onChange={(e) => update(i, { [kind]: Number(e.target.value) } as Partial<{ access: Access } & Record<K, number>>)}>
                <option value="">Choose…</option>
                {choices
                  .filter((c) => c.id === Number(r[kind]) || !used.has(c.id))
                  .map((c) => (
                    <option key={c.id} value={c.id}>
                      {c.name}
                    </option>
                  ))}
              </select>
              <AccessChoice
                name={`${props.testid}-access-${i}`}
                value={r.access}
                label={name || `row ${i + 1}`}
                onChange={(access) => update(i, { access } as Partial<{ access: Access } & Record<K, number>>)}
              />
              <button type="button" className="small" aria-label={`Remove ${name || `row ${i + 1}`}`} onClick={() => props.onChange(rows.filter((_, j) => j !== i))}>
                −
              </button>
              {props.why && Number(r[kind]) > 0 && props.why(Number(r[kind]), name)}
            </li>
          );
        })}
      </ul>
      <button type="button" className="small" data-testid={`${props.testid}-add`} onClick={() => props.onChange([...rows, { [kind]: 0, access: "READ" } as { access: Access } & Record<K, number>])}>
        {props.addLabel}
      </button>
      <FieldError errors={props.errors[field]} />
    </fieldset>
  );
}

export function UserFleetAccess(props: { value: FleetValue; onChange: (v: FleetValue) => void; errors: FieldErrors; disabled?: boolean }) {
  const [lists, setLists] = useState<{ teams: Named[]; systems: Named[]; groups: Named[] } | null>(null);
  useEffect(() => {
    let live = true;
    void Promise.all([api.callOptional("team.query"), api.callOptional("fleet.system.query"), api.callOptional("fleet.system_group.query")]).then(([t, s, g]) => {
      const pick = (x: unknown) => ((x as Named[] | null) ?? []).map((r) => ({ id: r.id, name: r.name }));
      if (live) setLists({ teams: pick(t), systems: pick(s), groups: pick(g) });
    });
    return () => {
      live = false;
    };
  }, []);
  const v = props.value;
  if (!lists) return <p className="hint">Loading fleet access…</p>;
  return (
    <fieldset className="plain" disabled={props.disabled} data-testid="user-fleet">
      <fieldset className="section" data-field="teams" tabIndex={-1} data-testid="user-teams">
        <legend>Teams</legend>
        {lists.teams.length === 0 && <p className="hint">No team exists yet.</p>}
        <ul className="check-list">
          {lists.teams.map((t) => (
            <li key={t.id}>
              <label>
                <input type="checkbox" checked={v.teams.includes(t.id)} onChange={(e) => props.onChange({ ...v, teams: e.target.checked ? [...v.teams, t.id] : v.teams.filter((x) => x !== t.id) })} />{" "}
                {t.name}
              </label>
            </li>
          ))}
        </ul>
        <FieldError errors={props.errors.teams} />
      </fieldset>
      <GrantRows
        kind="system"
        title="System Access"
        addLabel="Add system"
        rows={v.systems}
        choices={lists.systems}
        onChange={(systems) => props.onChange({ ...v, systems })}
        errors={props.errors}
        testid="user-systems"
        why={v.saved ? (system, name) => <SavedWhy saved={v.saved!} system={system} access={v.systems.find((g) => g.system === system)?.access} name={name} /> : undefined}
      />
      <GrantRows
        kind="system_group"
        title="System Groups"
        addLabel="Add group"
        rows={v.system_groups}
        choices={lists.groups}
        onChange={(system_groups) => props.onChange({ ...v, system_groups })}
        errors={props.errors}
        testid="user-system-groups"
      />
    </fieldset>
  );
}

/** "Why?" for a system row of an existing user: the explanation of the access as saved. */
function SavedWhy({ saved, system, access, name }: { saved: NonNullable<FleetValue["saved"]>; system: number; access?: Access; name: string }) {
  const unsaved = !saved.systems.some((g) => g.system === system && g.access === access);
  return <WhyAccess user={saved.user} system={system} label={`this user's access to ${name}`} note={unsaved ? "Not saved yet: this is the access as it stands." : undefined} />;
}
