// What the fleet access screens (Teams, System groups, Effective access) share: untyped calls of
// the fleet access methods (their types come with the generated api-types once regenerated) and
// the lists of names they show.

import { api } from "../api";
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
