// What the fleet access screens (Teams, System groups, Effective access, the user form's System
// Access, My systems) share: untyped calls of the fleet access methods (their types come with the
// generated api-types once regenerated), the lists of names they show, and the explanation of a
// user × system pair (fleet.access.explain) shown beside every such pair.

import { useState } from "react";
import { api, errorText } from "../api";
import { useAsync } from "../ui";

export type Access = "READ" | "READ_WRITE";
export interface Named {
  id: number;
  name: string;
}
export interface Team {
  id: number;
  name: string;
  members: number[];
  systems: { system: number; access: Access }[];
  system_groups: { system_group: number; access: Access }[];
}
export interface SystemGroup {
  id: number;
  name: string;
  systems: number[];
}

/** A fleet access method, untyped (errors reject as RpcError like any call). */
export function fleetCall<T = unknown>(method: string, ...params: unknown[]): Promise<T> {
  return api.callOptional(method, ...params) as Promise<T>;
}

export const accessLabel = (a: string) => (a === "READ_WRITE" ? "Read/write" : a === "READ" ? "Read" : "None");

/**
 * `fn` over `items` with at most `limit` calls in flight, results in order. The server answers
 * core.too_many_calls above 20 calls in flight on one connection, and a screen that explains every
 * user of a system must not trip it.
 */
export async function mapLimited<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/** Systems, system groups and users by id, for names in lists. */
export function useFleetNames(deps: unknown[] = []) {
  return useAsync(async () => {
    const [systems, groups, users] = await Promise.all([
      fleetCall<Named[]>("fleet.system.query", [], { select: ["id", "name"], order_by: ["name"] }),
      fleetCall<Named[]>("fleet.system_group.query", [], { order_by: ["name"] }),
      fleetCall<{ id: number; username: string }[]>("user.query", [], { select: ["id", "username"], order_by: ["username"] }).catch(() => []),
    ]);
    return {
      systems,
      groups: groups.map((g) => ({ id: g.id, name: g.name })),
      users,
      system: (id: number) => systems.find((s) => s.id === id)?.name ?? `system ${id}`,
      group: (id: number) => groups.find((g) => g.id === id)?.name ?? `group ${id}`,
      user: (id: number) => users.find((u) => u.id === id)?.username ?? `user ${id}`,
    };
  }, deps);
}

/** A grant as fleet.access.explain names it (the deciding one, or one it shadowed). */
export interface ExplainedGrant {
  id: number;
  level: string;
  text: string;
}

/** fleet.access.explain's answer. */
export interface Explanation {
  user: { id: number; username: string };
  system: { id: number; name: string };
  access: string;
  level: string | null;
  decided_by: ExplainedGrant | null;
  shadowed: ExplainedGrant[];
  text: string;
}

/**
 * The explanation in words, with the grants it shadowed (the Effective access view's "Why" cell).
 * Disclosures are <details>, not buttons: they stay usable inside a disabled form (a read-only
 * viewer of the user form still reads why).
 */
export function ExplanationText({ ex }: { ex: Explanation }) {
  return (
    <>
      <p className="explain" data-testid="access-explanation">
        {ex.text}
      </p>
      {ex.shadowed.length > 0 && (
        <details className="help shadowed">
          <summary>
            {ex.shadowed.length} shadowed grant{ex.shadowed.length === 1 ? "" : "s"}
          </summary>
          <ul>
            {ex.shadowed.map((s) => (
              <li key={`${s.level}/${s.id}`}>
                {s.text} ({s.level})
              </li>
            ))}
          </ul>
        </details>
      )}
    </>
  );
}

/**
 * "Why?" beside a user × system pair: the pair's explanation, asked of the server when first opened
 * (one call per pair the reader looks at, not one per pair listed). `user` is an id or a username,
 * as fleet.access.explain takes it. Reopening asks again (the access may have changed).
 */
export function WhyAccess({ user, system, label, note }: { user: number | string; system: number; label: string; note?: string }) {
  const [open, setOpen] = useState(false);
  const ex = useAsync(async () => (open ? fleetCall<Explanation>("fleet.access.explain", user, system) : null), [open, user, system]);
  return (
    <details className="help why-access" data-testid="why-access" onToggle={(e) => setOpen(e.currentTarget.open)}>
      <summary>
        Why?<span className="sr-only"> ({label})</span>
      </summary>
      {open && (
        <div className="why-text" data-testid="why-access-text">
          {note && <p className="hint">{note}</p>}
          {ex.loading && !ex.data && <p className="hint">Explaining…</p>}
          {ex.error ? <p className="error">{errorText(ex.error)} Close and open again to retry.</p> : null}
          {ex.data && <ExplanationText ex={ex.data} />}
        </div>
      )}
    </details>
  );
}
