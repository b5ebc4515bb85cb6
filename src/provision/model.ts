// The provisioner's in-memory view of the accounts and of the files rendered from it.
//
// Files are kept as lists of rendered blocks: the lines of the entities whose ids fall into one
// block of 256 ids, as one Buffer. A change to one user re-renders only that user's block in each
// file (plus the lines of the groups it joins or leaves), and a block whose bytes did not change
// keeps its Buffer object, so "did this file change?" is a comparison of references. Writing a
// file is one writev of its blocks. The bytes are exactly those of the pure generators in
// ./generate.ts, which render every line.

import {
  FILES, SUDOERS_HEADER, groupLine, gshadowLine, memberNames, passwdLine, shadowLine, shadowGid, smbpasswdLine,
  sshdConfig, sudoGroupLines, sudoUserLines, type FileId,
} from "./generate.js";
import type { ProvGroup, ProvPolicy, ProvUser, Snapshot } from "./types.js";

const SHIFT = 8;
const BLOCK = 1 << SHIFT;
const EMPTY = Buffer.alloc(0);

type Kind = "user" | "group";

class Section {
  readonly blocks = new Map<number, Buffer>();
  readonly dirty = new Set<number>();
  allDirty = true;
  constructor(
    readonly kind: Kind,
    readonly render: (entity: any) => string,
  ) {}
}

/** Keeps the sorted list of non-empty blocks of one id space. */
class BlockIndex {
  private readonly counts = new Map<number, number>();
  private sorted: number[] | null = [];
  add(id: number): void {
    const b = id >> SHIFT;
    const n = this.counts.get(b) ?? 0;
    this.counts.set(b, n + 1);
    if (n === 0) this.sorted = null;
  }
  remove(id: number): void {
    const b = id >> SHIFT;
    const n = this.counts.get(b) ?? 0;
    if (n <= 1) {
      this.counts.delete(b);
      this.sorted = null;
    } else this.counts.set(b, n - 1);
  }
  list(): number[] {
    if (!this.sorted) this.sorted = [...this.counts.keys()].sort((a, b) => a - b);
    return this.sorted;
  }
}

const sameList = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((x, i) => x === b[i]);

function sameUser(a: ProvUser, b: ProvUser): boolean {
  return (
    a.uid === b.uid && a.username === b.username && a.unixhash === b.unixhash && a.smbhash === b.smbhash && a.home === b.home &&
    a.shell === b.shell && a.full_name === b.full_name && a.builtin === b.builtin && a.smb === b.smb && a.group_id === b.group_id &&
    a.password_disabled === b.password_disabled && a.ssh_password_enabled === b.ssh_password_enabled && a.sshpubkey === b.sshpubkey &&
    a.locked === b.locked && a.last_password_change === b.last_password_change && a.created_at === b.created_at &&
    sameList(a.sudo_commands, b.sudo_commands) && sameList(a.sudo_commands_nopasswd, b.sudo_commands_nopasswd)
  );
}

/** What the sshd snippet depends on. */
const sshdFields = (u: ProvUser) => `${u.username}\0${u.locked}\0${u.ssh_password_enabled}\0${u.password_disabled}`;

function sameGroup(a: ProvGroup, b: ProvGroup): boolean {
  return a.gid === b.gid && a.name === b.name && a.builtin === b.builtin && sameList(a.sudo_commands, b.sudo_commands) && sameList(a.sudo_commands_nopasswd, b.sudo_commands_nopasswd);
}

function setsEqualPolicy(a: ProvPolicy, b: ProvPolicy): boolean {
  return a.min_password_age === b.min_password_age && a.max_password_age === b.max_password_age && a.enable_gpos_stig === b.enable_gpos_stig;
}

export class HostModel {
  readonly users = new Map<number, ProvUser>();
  readonly groups = new Map<number, ProvGroup>();
  /** user id → aux group ids */
  private readonly auxOfUser = new Map<number, Set<number>>();
  /** group id → aux member user ids */
  private readonly membersOfGroup = new Map<number, Set<number>>();
  private readonly namesCache = new Map<number, string>();
  private readonly userBlocks = new BlockIndex();
  private readonly groupBlocks = new BlockIndex();
  policy: ProvPolicy;

  private readonly sections: Record<Exclude<FileId, "sshd">, Section[]>;
  private sshdBuf: Buffer | null = null;
  private readonly headerBuf = Buffer.from(SUDOERS_HEADER);

  private constructor(policy: ProvPolicy) {
    this.policy = policy;
    const u = (render: (x: ProvUser) => string) => new Section("user", render);
    const g = (render: (x: ProvGroup) => string) => new Section("group", render);
    this.sections = {
      group: [g((x) => groupLine(x, this.memberNamesOf(x.id)))],
      gshadow: [g((x) => gshadowLine(x, this.memberNamesOf(x.id)))],
      passwd: [u((x) => passwdLine(x, this.groups.get(x.group_id)?.gid ?? 65534))],
      shadow: [u((x) => shadowLine(x, this.policy))],
      smbpasswd: [u((x) => smbpasswdLine(x, this.policy))],
      sudoers: [u(sudoUserLines), g(sudoGroupLines)],
    };
  }

  static fromSnapshot(s: Snapshot): HostModel {
    const m = new HostModel(s.policy);
    for (const g of s.groups) m.putGroup(g);
    for (const u of s.users) m.putUser(u);
    for (const [gid, ids] of s.members) {
      const set = new Set(ids);
      m.membersOfGroup.set(gid, set);
      for (const uid of ids) m.auxSet(uid).add(gid);
    }
    return m;
  }

  // ---- structure helpers ---------------------------------------------------------------------

  private auxSet(userId: number): Set<number> {
    let s = this.auxOfUser.get(userId);
    if (!s) this.auxOfUser.set(userId, (s = new Set()));
    return s;
  }

  /** Comma-separated aux member names (cached until the group is marked). */
  private memberNamesOf(groupId: number): string {
    const set = this.membersOfGroup.get(groupId);
    if (!set || set.size === 0) return "";
    let names = this.namesCache.get(groupId);
    if (names === undefined) {
      names = memberNames([...set].sort((a, b) => a - b), this.users).join(",");
      this.namesCache.set(groupId, names);
    }
    return names;
  }

  private putUser(u: ProvUser): void {
    if (!this.users.has(u.id)) this.userBlocks.add(u.id);
    this.users.set(u.id, u);
  }

  private dropUser(id: number): void {
    if (!this.users.delete(id)) return;
    this.userBlocks.remove(id);
  }

  private putGroup(g: ProvGroup): void {
    if (!this.groups.has(g.id)) this.groupBlocks.add(g.id);
    this.groups.set(g.id, g);
  }

  private dropGroup(id: number): void {
    if (!this.groups.delete(id)) return;
    this.groupBlocks.remove(id);
  }

  private mark(kind: Kind, id: number): void {
    if (kind === "group") this.namesCache.delete(id);
    const b = id >> SHIFT;
    for (const secs of Object.values(this.sections)) for (const s of secs) if (s.kind === kind && !s.allDirty) s.dirty.add(b);
  }

  private markAll(kind: Kind, files?: FileId[]): void {
    if (kind === "group") this.namesCache.clear();
    for (const [file, secs] of Object.entries(this.sections)) {
      if (files && !files.includes(file as FileId)) continue;
      for (const s of secs) if (s.kind === kind) s.allDirty = true;
    }
    if (kind === "user") this.sshdBuf = null;
  }

  /** Users whose primary group is one of `groupIds` (as the model knows them): one scan. */
  usersWithPrimary(groupIds: Iterable<number>): number[] {
    const want = new Set(groupIds);
    const out: number[] = [];
    if (want.size) for (const u of this.users.values()) if (want.has(u.group_id)) out.push(u.id);
    return out;
  }

  // ---- updates ---------------------------------------------------------------------------------

  setPolicy(p: ProvPolicy): void {
    if (setsEqualPolicy(p, this.policy)) return;
    this.policy = p;
    this.markAll("user", ["shadow", "smbpasswd"]);
  }

  /**
   * Replace what the model holds for users `ids` with `rows` (a missing row = deleted user) and
   * their complete aux memberships `memberships`.
   */
  applyUsers(ids: Iterable<number>, rows: ProvUser[], memberships: { group_id: number; user_id: number }[]): void {
    const rowById = new Map(rows.map((r) => [r.id, r]));
    const newAux = new Map<number, Set<number>>();
    for (const m of memberships) {
      let s = newAux.get(m.user_id);
      if (!s) newAux.set(m.user_id, (s = new Set()));
      s.add(m.group_id);
    }
    const seen = new Set<number>();
    for (const id of ids) {
      if (seen.has(id)) continue;
      seen.add(id);
      const old = this.users.get(id);
      const nu = rowById.get(id);
      if (!old && !nu) continue;
      this.mark("user", id);
      if (!old || !nu || sshdFields(old) !== sshdFields(nu)) this.sshdBuf = null;
      const oldAux = this.auxOfUser.get(id) ?? new Set<number>();
      const nuAux = nu ? (newAux.get(id) ?? new Set<number>()) : new Set<number>();
      const renamed = !old || !nu || old.username !== nu.username;
      for (const g of new Set([...oldAux, ...nuAux])) {
        if (renamed || oldAux.has(g) !== nuAux.has(g)) this.mark("group", g);
        if (oldAux.has(g) && !nuAux.has(g)) this.membersOfGroup.get(g)?.delete(id);
        if (!oldAux.has(g) && nuAux.has(g)) {
          let s = this.membersOfGroup.get(g);
          if (!s) this.membersOfGroup.set(g, (s = new Set()));
          s.add(id);
        }
      }
      if (nuAux.size) this.auxOfUser.set(id, nuAux);
      else this.auxOfUser.delete(id);
      if (nu) this.putUser(nu);
      else this.dropUser(id);
    }
  }

  /** Aux members of a group, as the model knows them. */
  memberCount(groupId: number): number {
    return this.membersOfGroup.get(groupId)?.size ?? 0;
  }

  /**
   * Replace groups `ids` with `rows` (missing = deleted). Their aux member lists are replaced by
   * `memberships` for the groups in `membersFor` (default: all of `ids`); the others keep theirs.
   */
  applyGroups(ids: Iterable<number>, rows: ProvGroup[], memberships: { group_id: number; user_id: number }[], membersFor?: ReadonlySet<number>): void {
    const rowById = new Map(rows.map((r) => [r.id, r]));
    const newMembers = new Map<number, Set<number>>();
    for (const m of memberships) {
      let s = newMembers.get(m.group_id);
      if (!s) newMembers.set(m.group_id, (s = new Set()));
      s.add(m.user_id);
    }
    const regid: number[] = []; // groups whose gid appeared, vanished or changed
    for (const id of new Set(ids)) {
      const old = this.groups.get(id);
      const nu = rowById.get(id);
      if (!old && !nu) continue;
      if (!old || !nu || !sameGroup(old, nu)) this.mark("group", id);
      if (!old || !nu || old.gid !== nu.gid) regid.push(id);
      if (nu) this.putGroup(nu);
      else this.dropGroup(id);
      if (nu && membersFor && !membersFor.has(id)) continue;
      const oldM = this.membersOfGroup.get(id) ?? new Set<number>();
      const nuM = nu ? (newMembers.get(id) ?? new Set<number>()) : new Set<number>();
      if (oldM.size !== nuM.size || [...nuM].some((u) => !oldM.has(u))) this.mark("group", id);
      for (const u of oldM) if (!nuM.has(u)) this.auxOfUser.get(u)?.delete(id);
      for (const u of nuM) if (!oldM.has(u)) this.auxSet(u).add(id);
      if (nuM.size) this.membersOfGroup.set(id, nuM);
      else this.membersOfGroup.delete(id);
    }
    // passwd lines carry the primary gid
    for (const u of this.usersWithPrimary(regid)) this.mark("user", u);
  }

  /**
   * Bring the model to `snap` (a full read of the store), marking only what differs, so a full
   * run with a warm model re-renders the blocks of changed rows instead of everything. Returns
   * the ids of the users that changed.
   */
  reconcile(snap: Snapshot): number[] {
    this.setPolicy(snap.policy);
    const snapGroups = new Map(snap.groups.map((g) => [g.id, g]));
    const groupIds = new Set<number>();
    for (const g of snap.groups) {
      const old = this.groups.get(g.id);
      if (!old || !sameGroup(old, g)) groupIds.add(g.id);
    }
    for (const id of this.groups.keys()) if (!snapGroups.has(id)) groupIds.add(id);
    for (const [g, ids] of snap.members) {
      const cur = this.membersOfGroup.get(g);
      if (!cur || cur.size !== ids.length || ids.some((u) => !cur.has(u))) groupIds.add(g);
    }
    for (const [g, cur] of this.membersOfGroup) if (cur.size && !snap.members.has(g)) groupIds.add(g);
    if (groupIds.size) {
      const mem: { group_id: number; user_id: number }[] = [];
      for (const g of groupIds) for (const u of snap.members.get(g) ?? []) mem.push({ group_id: g, user_id: u });
      this.applyGroups(groupIds, [...groupIds].map((id) => snapGroups.get(id)).filter((g): g is ProvGroup => !!g), mem);
    }
    const snapUsers = new Map(snap.users.map((u) => [u.id, u]));
    const userIds: number[] = [];
    for (const u of snap.users) {
      const old = this.users.get(u.id);
      if (!old || !sameUser(old, u)) userIds.push(u.id);
    }
    for (const id of this.users.keys()) if (!snapUsers.has(id)) userIds.push(id);
    if (userIds.length) {
      const want = new Set(userIds);
      const mem: { group_id: number; user_id: number }[] = [];
      for (const [g, ids] of snap.members) for (const u of ids) if (want.has(u)) mem.push({ group_id: g, user_id: u });
      this.applyUsers(userIds, userIds.map((id) => snapUsers.get(id)).filter((u): u is ProvUser => !!u), mem);
    }
    return userIds;
  }

  // ---- rendering -----------------------------------------------------------------------------

  /** Users by ascending id (block by block: no sort of the whole map). */
  *usersInOrder(): Generator<ProvUser> {
    for (const b of this.userBlocks.list()) {
      const lo = b << SHIFT;
      for (let id = lo; id < lo + BLOCK; id++) {
        const u = this.users.get(id);
        if (u) yield u;
      }
    }
  }

  private renderSection(s: Section): Buffer[] {
    const map: Map<number, ProvUser | ProvGroup> = s.kind === "user" ? this.users : this.groups;
    const blocks = (s.kind === "user" ? this.userBlocks : this.groupBlocks).list();
    const redo = s.allDirty ? null : s.dirty;
    const out: Buffer[] = [];
    const live = new Set<number>();
    for (const b of blocks) {
      live.add(b);
      let buf = s.blocks.get(b);
      if (!buf || !redo || redo.has(b)) {
        let text = "";
        const lo = b << SHIFT;
        for (let id = lo; id < lo + BLOCK; id++) {
          const e = map.get(id);
          if (e !== undefined) text += s.render(e);
        }
        const fresh = text === "" ? EMPTY : Buffer.from(text);
        if (!buf || !buf.equals(fresh)) {
          buf = fresh;
          s.blocks.set(b, buf);
        }
      }
      if (buf.length) out.push(buf);
    }
    if (s.blocks.size !== live.size) for (const b of s.blocks.keys()) if (!live.has(b)) s.blocks.delete(b);
    s.dirty.clear();
    s.allDirty = false;
    return out;
  }

  /**
   * The file's content as a list of buffers. Unchanged blocks come back as the same Buffer
   * objects as last time.
   */
  render(file: FileId): Buffer[] {
    if (file === "sshd") {
      this.sshdBuf ??= Buffer.from(sshdConfig(this.usersInOrder()));
      return [this.sshdBuf];
    }
    const parts: Buffer[] = file === "sudoers" ? [this.headerBuf] : [];
    for (const s of this.sections[file]) for (const b of this.renderSection(s)) parts.push(b);
    return parts;
  }

  renderAll(): Record<FileId, Buffer[]> {
    const out = {} as Record<FileId, Buffer[]>;
    for (const f of FILES) out[f.id] = this.render(f.id);
    return out;
  }

  shadowGid(): number {
    return shadowGid(this.groups.values());
  }
}
