// id → name of users and groups, for audit labels. The dispatcher computes a method's audit label
// synchronously from its arguments before the handler runs, yet the reference's labels name the
// account ("Update user alice") while the arguments carry only its id. Every entry we build or
// change passes through here, so the name is known in practice (clients query before they edit);
// when it is not, the label falls back to the id.

const users = new Map<number, string>();
const groups = new Map<number, string>();
const LIMIT = 100_000;

function remember(map: Map<number, string>, id: number, name: string): void {
  if (map.get(id) === name) return;
  if (map.size >= LIMIT) map.clear();
  map.set(id, name);
}

export const rememberUser = (id: number, name: string) => remember(users, id, name);
export const rememberGroup = (id: number, name: string) => remember(groups, id, name);
export const userLabel = (id: unknown) => (typeof id === "number" && users.get(id)) || String(id);
export const groupLabel = (id: unknown) => (typeof id === "number" && groups.get(id)) || String(id);
