// One typed event per committed change: the ids of what it touched, by kind. Handlers build it once
// (`changeOf`), record it in the store in the same transaction (./changes.ts recordChange, so other
// server processes learn exactly what changed) and publish it in this process after the commit
// (App.changed). Host provisioning re-renders the named users and groups, sessions re-check their
// accounts, and a change too large to list (or one whose contents are unknown, such as a commit
// announced while this process was not listening) is `all`: everything may have changed.

export interface ChangeEvent {
  readonly users: readonly number[];
  readonly groups: readonly number[];
  readonly privileges: readonly number[];
  readonly apiKeys: readonly number[];
  /** Keys of the `settings` table (e.g. `system.security`). */
  readonly settings: readonly string[];
  readonly systems: readonly number[];
  readonly systemGroups: readonly number[];
  readonly teams: readonly number[];
  /** Directory (LDAP) servers and settings, mail settings, certificate authorities. */
  readonly directory: readonly number[];
  /** Everything may have changed: listeners treat every kind as touched. */
  readonly all: boolean;
}

export type IdKind = "users" | "groups" | "privileges" | "apiKeys" | "systems" | "systemGroups" | "teams" | "directory";
const ID_KINDS: readonly IdKind[] = ["users", "groups", "privileges", "apiKeys", "systems", "systemGroups", "teams", "directory"];

/** What a change touched, as handlers know it (null/undefined ids are skipped, repeats merged). */
export type ChangeParts = Partial<Record<IdKind, Iterable<number | null | undefined>>> & { settings?: Iterable<string>; all?: boolean };

/**
 * Above this many ids in all, a change is recorded and announced as `all` (NOTIFY payloads are
 * capped at 8,000 bytes, and a listener handles a bulk change best as a full pass anyway).
 */
export const MAX_CHANGE_IDS = 5_000;

const uniqueIds = (it: Iterable<number | null | undefined> | undefined): number[] => {
  if (!it) return [];
  const out = new Set<number>();
  for (const x of it) if (typeof x === "number" && Number.isInteger(x)) out.add(x);
  return [...out];
};

/** The typed event of a change. */
export function changeOf(parts: ChangeParts): ChangeEvent {
  const ev = {
    users: uniqueIds(parts.users),
    groups: uniqueIds(parts.groups),
    privileges: uniqueIds(parts.privileges),
    apiKeys: uniqueIds(parts.apiKeys),
    settings: [...new Set(parts.settings ?? [])],
    systems: uniqueIds(parts.systems),
    systemGroups: uniqueIds(parts.systemGroups),
    teams: uniqueIds(parts.teams),
    directory: uniqueIds(parts.directory),
    all: !!parts.all,
  };
  return idCount(ev) > MAX_CHANGE_IDS ? EVERYTHING : ev;
}

/** Everything may have changed. */
export const EVERYTHING: ChangeEvent = Object.freeze({
  users: [],
  groups: [],
  privileges: [],
  apiKeys: [],
  settings: [],
  systems: [],
  systemGroups: [],
  teams: [],
  directory: [],
  all: true,
});

function idCount(ev: ChangeEvent): number {
  let n = ev.settings.length;
  for (const k of ID_KINDS) n += ev[k].length;
  return n;
}

/** Whether the event names anything (or is `all`). */
export function isEmptyChange(ev: ChangeEvent): boolean {
  return !ev.all && idCount(ev) === 0;
}

/** Whether the event touches `kind` (always, when `all`). */
export function touches(ev: ChangeEvent, kind: IdKind | "settings"): boolean {
  return ev.all || ev[kind].length > 0;
}

/** Several events as one (listeners that batch, e.g. several remote commits read together). */
export function mergeChanges(events: readonly ChangeEvent[]): ChangeEvent {
  if (events.some((e) => e.all)) return EVERYTHING;
  const parts: ChangeParts = { settings: events.flatMap((e) => e.settings) };
  for (const k of ID_KINDS) parts[k] = events.flatMap((e) => e[k]);
  return changeOf(parts);
}

/** The stored form (the `changes` table's payload): only the kinds that have ids. */
export function encodeChange(ev: ChangeEvent): string {
  if (ev.all) return '{"all":true}';
  const out: Record<string, unknown> = {};
  for (const k of [...ID_KINDS, "settings"] as const) if (ev[k].length) out[k] = ev[k];
  return JSON.stringify(out);
}

/** The event of a stored payload; anything unreadable counts as everything changed. */
export function decodeChange(text: string): ChangeEvent {
  try {
    const v = JSON.parse(text) as Record<string, unknown>;
    if (!v || typeof v !== "object" || Array.isArray(v) || v.all) return EVERYTHING;
    const parts: ChangeParts = {};
    for (const k of ID_KINDS) if (Array.isArray(v[k])) parts[k] = v[k] as number[];
    if (Array.isArray(v.settings)) parts.settings = (v.settings as unknown[]).filter((s): s is string => typeof s === "string");
    return changeOf(parts);
  } catch {
    return EVERYTHING;
  }
}
