// The provisioner's in-memory view of the accounts and of the files rendered from it.
//
// Files are kept as lists of rendered blocks: the lines of the entities whose ids fall into one
// block of 256 ids, as one Buffer. A change to one user re-renders only that user's block in each
// file (plus the lines of the groups it joins or leaves), and a block whose bytes did not change
// keeps its Buffer object, so "did this file change?" is a comparison of references. Writing a
// file is one writev of its blocks. A block is rendered for every file in one pass over its ids
// (users: passwd, shadow, smbpasswd, sudoers and the block's share of the sshd snippet's lists;
// groups: group, gshadow, sudoers). The bytes are exactly those of the pure generators in
// ./generate.ts, whose lines ./lines.ts writes straight into bytes (./model.test.ts compares the two).

import { FILES, SSHD_DENY, SSHD_NO_PASSWORD, SUDOERS_HEADER, memberNames, shadowGid, sshdFlags, sshdText, type FileId } from "./generate.js";
import { LineBuffer, writeGroup, writeUser, type UserLineBuffers } from "./lines.js";
import { NO_HOME } from "./keys.js";
import type { CandidateKeys, KnownAccounts } from "./drift.js";
import { IdMap } from "./id-map.js";
import { drain, type Slicer } from "./slice.js";
import type { ProvGroup, ProvPolicy, ProvUser, Snapshot } from "./types.js";

const SHIFT = 8;
const BLOCK = 1 << SHIFT;
/** Rows handled between two yields of a sliced loop (see ./slice.ts): a fraction of a millisecond. */
const STEP_MASK = 255;
const EMPTY = Buffer.alloc(0);

type Kind = "user" | "group";

/** The rendered lines of the users whose ids fall into one block, per file. */
interface UserBlock {
  passwd: Buffer;
  shadow: Buffer;
  smbpasswd: Buffer;
  sudoers: Buffer;
  /** The block's names in the sshd snippet's DenyUsers list (space-separated) … */
  deny: string;
  /** … and in its Match User list (comma-separated). */
  noPassword: string;
}

/** The rendered lines of the groups whose ids fall into one block, per file. */
interface GroupBlock {
  group: Buffer;
  gshadow: Buffer;
  sudoers: Buffer;
}

/** Blocks of one id space that must be rendered again. */
class Dirty {
  all = true;
  readonly blocks = new Set<number>();
  mark(block: number): void {
    if (!this.all) this.blocks.add(block);
  }
  any(): boolean {
    return this.all || this.blocks.size > 0;
  }
  has(block: number): boolean {
    return this.all || this.blocks.has(block);
  }
  clear(): void {
    this.all = false;
    this.blocks.clear();
  }
}

/**
 * Where a block's bytes are kept. Blocks rendered from scratch (the first render, after a cold
 * build) stay where a packed LineBuffer wrote them, in shared 1 MB slabs: one allocation per MB
 * instead of one per block per file, which the garbage collector notices, and no copy. A slab
 * lives while any block in it does, so later re-renders (one block at a time) get buffers of
 * their own, copied out of reused line buffers.
 */
class Bytes {
  constructor(readonly packed: boolean) {}
  /** `src` as the block keeps it (a LineBuffer's view; a reused one is about to be written over). */
  of(src: Buffer): Buffer {
    if (src.length === 0) return EMPTY;
    return this.packed ? src : Buffer.from(src);
  }
}
/** `fresh`, or `old` when it holds the same bytes (so unchanged blocks keep their object). */
const keep = (old: Buffer, fresh: Buffer): Buffer => (old === fresh || old.equals(fresh) ? old : fresh);

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

/**
 * user id → the user's aux group ids. Most users are in exactly one (every SMB user in
 * builtin_users): that one is stored as the number itself, not as a Set of one (some 100 bytes
 * per user, 100 MB at 1,000,000 users).
 */
class AuxIndex {
  private readonly byUser = new Map<number, number | number[]>();
  /** The user's aux groups (a fresh Set). */
  of(userId: number): Set<number> {
    const v = this.byUser.get(userId);
    return new Set(v === undefined ? [] : typeof v === "number" ? [v] : v);
  }
  set(userId: number, groups: ReadonlySet<number>): void {
    if (groups.size === 0) this.byUser.delete(userId);
    else if (groups.size === 1) this.byUser.set(userId, groups.values().next().value as number);
    else this.byUser.set(userId, [...groups]);
  }
  add(userId: number, groupId: number): void {
    const v = this.byUser.get(userId);
    if (v === undefined) this.byUser.set(userId, groupId);
    else if (typeof v === "number") {
      if (v !== groupId) this.byUser.set(userId, [v, groupId]);
    } else if (!v.includes(groupId)) v.push(groupId);
  }
  remove(userId: number, groupId: number): void {
    const v = this.byUser.get(userId);
    if (v === undefined) return;
    if (typeof v === "number") {
      if (v === groupId) this.byUser.delete(userId);
      return;
    }
    const rest = v.filter((g) => g !== groupId);
    if (rest.length === v.length) return;
    if (rest.length === 1) this.byUser.set(userId, rest[0]);
    else this.byUser.set(userId, rest);
  }
}

const sameList = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((x, i) => x === b[i]);

function sameUser(a: ProvUser, b: ProvUser): boolean {
  return (
    a.uid === b.uid &&
    a.username === b.username &&
    a.unixhash === b.unixhash &&
    a.smbhash === b.smbhash &&
    a.home === b.home &&
    a.shell === b.shell &&
    a.full_name === b.full_name &&
    a.builtin === b.builtin &&
    a.smb === b.smb &&
    a.group_id === b.group_id &&
    a.password_disabled === b.password_disabled &&
    a.ssh_password_enabled === b.ssh_password_enabled &&
    a.sshpubkey === b.sshpubkey &&
    a.locked === b.locked &&
    a.last_password_change === b.last_password_change &&
    a.created_at === b.created_at &&
    sameList(a.sudo_commands, b.sudo_commands) &&
    sameList(a.sudo_commands_nopasswd, b.sudo_commands_nopasswd)
  );
}

function sameGroup(a: ProvGroup, b: ProvGroup): boolean {
  return (
    a.gid === b.gid &&
    a.name === b.name &&
    a.builtin === b.builtin &&
    sameList(a.sudo_commands, b.sudo_commands) &&
    sameList(a.sudo_commands_nopasswd, b.sudo_commands_nopasswd) &&
    sameIds(a.admins, b.admins)
  );
}

/** Same administrators (absent = none), without building a string per group per diff. */
function sameIds(a: readonly number[] | undefined, b: readonly number[] | undefined): boolean {
  const n = a?.length ?? 0;
  if (n !== (b?.length ?? 0)) return false;
  for (let i = 0; i < n; i++) if (a![i] !== b![i]) return false;
  return true;
}

function setsEqualPolicy(a: ProvPolicy, b: ProvPolicy): boolean {
  return a.min_password_age === b.min_password_age && a.max_password_age === b.max_password_age && a.enable_gpos_stig === b.enable_gpos_stig;
}

export class HostModel {
  readonly users = new IdMap<ProvUser>();
  /** Ids of users whose home is not NO_HOME. */
  private readonly withHome = new Set<number>();
  readonly groups = new IdMap<ProvGroup>();
  /** user id → aux group ids; derived from membersOfGroup when first needed (not by a full build) */
  private auxOfUser: AuxIndex | null = null;
  /** group id → aux member user ids */
  private readonly membersOfGroup = new Map<number, Set<number>>();
  private readonly namesCache = new Map<number, string>();
  private readonly userBlocks = new BlockIndex();
  private readonly groupBlocks = new BlockIndex();
  policy: ProvPolicy;

  private readonly userOut = new Map<number, UserBlock>();
  private readonly groupOut = new Map<number, GroupBlock>();
  private readonly userDirty = new Dirty();
  private readonly groupDirty = new Dirty();
  private sshdBuf: Buffer | null = null;
  private readonly headerBuf = Buffer.from(SUDOERS_HEADER);
  /** Where blocks are rendered into before they are copied out (made at the first render). */
  private lines: UserLineBuffers | null = null;

  private constructor(policy: ProvPolicy) {
    this.policy = policy;
  }

  static fromSnapshot(s: Snapshot): HostModel {
    return drain(HostModel.buildSteps(s));
  }

  /** fromSnapshot in turns of a few milliseconds (the event loop runs between them). */
  static build(s: Snapshot, slicer: Slicer): Promise<HostModel> {
    return slicer.drive(HostModel.buildSteps(s));
  }

  private static *buildSteps(s: Snapshot): Generator<void, HostModel> {
    const m = new HostModel(s.policy);
    for (let i = 0; i < s.groups.length; i++) {
      m.putGroup(s.groups[i]);
      if ((i & STEP_MASK) === STEP_MASK) yield;
    }
    for (let i = 0; i < s.users.length; i++) {
      m.putUser(s.users[i]);
      if ((i & STEP_MASK) === STEP_MASK) yield;
    }
    for (const [gid, ids] of s.members) {
      if (ids.length) m.membersOfGroup.set(gid, new Set(ids));
      yield;
    }
    return m;
  }

  // ---- structure helpers ---------------------------------------------------------------------

  private aux(): AuxIndex {
    if (!this.auxOfUser) {
      const aux = new AuxIndex();
      for (const [gid, members] of this.membersOfGroup) for (const uid of members) aux.add(uid, gid);
      this.auxOfUser = aux;
    }
    return this.auxOfUser;
  }

  /** Comma-separated aux member names (cached until the group is marked). */
  private memberNamesOf(groupId: number): string {
    const set = this.membersOfGroup.get(groupId);
    if (!set || set.size === 0) return "";
    let names = this.namesCache.get(groupId);
    if (names === undefined) {
      const ids = [...set];
      let sorted = true;
      for (let i = 1; i < ids.length; i++) {
        if (ids[i - 1] > ids[i]) {
          sorted = false;
          break;
        }
      }
      if (!sorted) ids.sort((a, b) => a - b);
      names = memberNames(ids, this.users).join(",");
      this.namesCache.set(groupId, names);
    }
    return names;
  }

  private putUser(u: ProvUser): void {
    if (!this.users.has(u.id)) this.userBlocks.add(u.id);
    this.users.set(u.id, u);
    if (u.home !== NO_HOME) this.withHome.add(u.id);
    else this.withHome.delete(u.id);
  }

  private dropUser(id: number): void {
    if (!this.users.delete(id)) return;
    this.userBlocks.remove(id);
    this.withHome.delete(id);
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
    if (kind === "group") {
      this.namesCache.delete(id);
      this.groupDirty.mark(id >> SHIFT);
    } else this.userDirty.mark(id >> SHIFT);
  }

  private markAll(kind: Kind): void {
    if (kind === "group") {
      this.namesCache.clear();
      this.groupDirty.all = true;
    } else this.userDirty.all = true;
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
    this.markAll("user"); // shadow and smbpasswd lines depend on it
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
      const aux = this.aux();
      const oldAux = aux.of(id);
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
      aux.set(id, nuAux);
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
      for (const u of oldM) if (!nuM.has(u)) this.aux().remove(u, id);
      for (const u of nuM) if (!oldM.has(u)) this.aux().add(u, id);
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
    return drain(this.reconcileSteps(snap));
  }

  /** reconcile in turns of a few milliseconds (the event loop runs between them). */
  reconcileSliced(snap: Snapshot, slicer: Slicer): Promise<number[]> {
    return slicer.drive(this.reconcileSteps(snap));
  }

  private *reconcileSteps(snap: Snapshot): Generator<void, number[]> {
    this.setPolicy(snap.policy);
    const snapGroups = new Map<number, ProvGroup>();
    const groupIds = new Set<number>();
    for (let i = 0; i < snap.groups.length; i++) {
      const g = snap.groups[i];
      snapGroups.set(g.id, g);
      const old = this.groups.get(g.id);
      if (!old || !sameGroup(old, g)) groupIds.add(g.id);
      if ((i & STEP_MASK) === STEP_MASK) yield;
    }
    for (const id of this.groups.keys()) if (!snapGroups.has(id)) groupIds.add(id);
    yield;
    for (const [g, ids] of snap.members) {
      const cur = this.membersOfGroup.get(g);
      if (!cur || cur.size !== ids.length || ids.some((u) => !cur.has(u))) groupIds.add(g);
      yield;
    }
    for (const [g, cur] of this.membersOfGroup) if (cur.size && !snap.members.has(g)) groupIds.add(g);
    if (groupIds.size) {
      const mem: { group_id: number; user_id: number }[] = [];
      for (const g of groupIds) for (const u of snap.members.get(g) ?? []) mem.push({ group_id: g, user_id: u });
      this.applyGroups(
        groupIds,
        [...groupIds].map((id) => snapGroups.get(id)).filter((g): g is ProvGroup => !!g),
        mem,
      );
      yield;
    }
    const snapUsers = new Map<number, ProvUser>();
    const userIds: number[] = [];
    for (let i = 0; i < snap.users.length; i++) {
      const u = snap.users[i];
      snapUsers.set(u.id, u);
      const old = this.users.get(u.id);
      if (!old || !sameUser(old, u)) userIds.push(u.id);
      if ((i & STEP_MASK) === STEP_MASK) yield;
    }
    if (this.users.size + userIds.length > snapUsers.size) {
      // some model user is not in the snapshot: deleted
      let i = 0;
      for (const id of this.users.keys()) {
        if (!snapUsers.has(id)) userIds.push(id);
        if ((++i & STEP_MASK) === 0) yield;
      }
    }
    if (userIds.length) {
      const want = new Set(userIds);
      const mem: { group_id: number; user_id: number }[] = [];
      for (const [g, ids] of snap.members) {
        for (const u of ids) if (want.has(u)) mem.push({ group_id: g, user_id: u });
        yield;
      }
      this.applyUsers(
        userIds,
        userIds.map((id) => snapUsers.get(id)).filter((u): u is ProvUser => !!u),
        mem,
      );
    }
    return userIds;
  }

  // ---- rendering -----------------------------------------------------------------------------

  /**
   * The users and groups sharing a name or id with `keys` (to spot system accounts the store
   * lacks): one pass over the accounts in steps (see ./slice.ts), no list of all of them.
   */
  *knownAccountsAmongSteps(keys: CandidateKeys): Generator<void, KnownAccounts> {
    const out: KnownAccounts = { users: [], groups: [] };
    let i = 0;
    for (const u of this.users.values()) {
      if (keys.uids.has(u.uid) || keys.userNames.has(u.username)) out.users.push({ name: u.username, id: u.uid });
      if ((++i & 4095) === 0) yield;
    }
    for (const g of this.groups.values()) {
      if (keys.gids.has(g.gid) || keys.groupNames.has(g.name)) out.groups.push({ name: g.name, id: g.gid });
      if ((++i & 4095) === 0) yield;
    }
    return out;
  }

  /**
   * Users, by ascending id, whose home is anything but /var/empty: the only ones that can have an
   * authorized_keys file to write or remove (see keysPlacement), so a check of "every user's keys"
   * does not walk the accounts that have no home at all.
   */
  usersWithHome(): ProvUser[] {
    const ids = [...this.withHome].sort((a, b) => a - b);
    return ids.map((id) => this.users.get(id)!);
  }

  /** Users by ascending id (block by block: no sort of the whole map). */
  usersInOrder(): ProvUser[] {
    const out: ProvUser[] = [];
    for (const b of this.userBlocks.list()) {
      const lo = b << SHIFT;
      for (let id = lo; id < lo + BLOCK; id++) {
        const u = this.users.get(id);
        if (u !== undefined) out.push(u);
      }
    }
    return out;
  }

  /**
   * Render the users of one block into every user file at once (one pass, one lookup per id).
   * Each line is written as bytes by ./lines.ts (generate.ts's lines, without the strings).
   */
  private renderUserBlock(b: number, bytes: Bytes): UserBlock {
    const users = this.users;
    const groups = this.groups;
    const policy = this.policy;
    const out = this.lineBuffers(bytes.packed);
    let deny = "",
      noPassword = "";
    const lo = b << SHIFT;
    for (let id = lo; id < lo + BLOCK; id++) {
      const u = users.get(id);
      if (u === undefined) continue;
      writeUser(out, u, groups.get(u.group_id)?.gid ?? 65534, policy);
      const f = sshdFlags(u);
      if (f & SSHD_DENY) deny = deny === "" ? u.username : `${deny} ${u.username}`;
      if (f & SSHD_NO_PASSWORD) noPassword = noPassword === "" ? u.username : `${noPassword},${u.username}`;
    }
    return {
      passwd: bytes.of(out.passwd.take()),
      shadow: bytes.of(out.shadow.take()),
      smbpasswd: bytes.of(out.smbpasswd.take()),
      sudoers: bytes.of(out.sudoers.take()),
      deny,
      noPassword,
    };
  }

  /**
   * The byte buffers blocks are rendered into, reused from block to block within one render pass
   * (`take` empties them) and dropped after it: a block holding builtin_users grows two of them to
   * its member list's size (some 11 MB at 1,000,000 users), which a model should not keep.
   */
  private lineBuffers(packed: boolean): UserLineBuffers {
    // packed or reused as the pass needs (a pass cut short by an error may have left the other kind)
    if (this.lines?.passwd.packed !== packed) {
      const make = () => new LineBuffer(1 << 16, packed);
      this.lines = { passwd: make(), shadow: make(), smbpasswd: make(), sudoers: make() };
    }
    return this.lines;
  }

  private renderGroupBlock(b: number, bytes: Bytes): GroupBlock {
    const groups = this.groups;
    const out = this.lineBuffers(bytes.packed);
    // the user files' buffers are free between blocks: group, gshadow and sudoers lines use them
    const group = out.passwd;
    const gshadow = out.shadow;
    const sudoers = out.sudoers;
    const lo = b << SHIFT;
    for (let id = lo; id < lo + BLOCK; id++) {
      const g = groups.get(id);
      if (g === undefined) continue;
      const members = this.memberNamesOf(id);
      writeGroup(group, gshadow, sudoers, g, members, g.admins ? memberNames(g.admins, this.users).join(",") : "");
    }
    return { group: bytes.of(group.take()), gshadow: bytes.of(gshadow.take()), sudoers: bytes.of(sudoers.take()) };
  }

  /** Re-render the dirty user blocks; a block whose bytes did not change keeps its Buffers. */
  private renderUsers(): void {
    drain(this.renderUserSteps());
  }

  /** One step per re-rendered block. */
  private *renderUserSteps(): Generator<void, void> {
    const dirty = this.userDirty;
    if (!dirty.any()) return;
    const blocks = this.userBlocks.list();
    const bytes = new Bytes(this.userOut.size === 0);
    let sshdChanged = false;
    for (const b of blocks) {
      if (!dirty.has(b)) continue;
      // Between steps nothing else touches the model (one provisioning run at a time).
      yield;
      const fresh = this.renderUserBlock(b, bytes);
      const old = this.userOut.get(b);
      if (old) {
        fresh.passwd = keep(old.passwd, fresh.passwd);
        fresh.shadow = keep(old.shadow, fresh.shadow);
        fresh.smbpasswd = keep(old.smbpasswd, fresh.smbpasswd);
        fresh.sudoers = keep(old.sudoers, fresh.sudoers);
        if (old.deny !== fresh.deny || old.noPassword !== fresh.noPassword) sshdChanged = true;
      } else sshdChanged = true;
      this.userOut.set(b, fresh);
    }
    if (this.userOut.size !== blocks.length) {
      const live = new Set(blocks);
      for (const b of this.userOut.keys()) {
        if (!live.has(b)) {
          this.userOut.delete(b);
          sshdChanged = true;
        }
      }
    }
    dirty.clear();
    this.lines = null; // not kept between runs: a long member list grew them (see lineBuffers)
    if (sshdChanged) this.sshdBuf = null;
  }

  private renderGroups(): void {
    drain(this.renderGroupSteps());
  }

  private *renderGroupSteps(): Generator<void, void> {
    const dirty = this.groupDirty;
    if (!dirty.any()) return;
    const blocks = this.groupBlocks.list();
    const bytes = new Bytes(this.groupOut.size === 0);
    for (const b of blocks) {
      if (!dirty.has(b)) continue;
      yield;
      const fresh = this.renderGroupBlock(b, bytes);
      const old = this.groupOut.get(b);
      if (old) {
        fresh.group = keep(old.group, fresh.group);
        fresh.gshadow = keep(old.gshadow, fresh.gshadow);
        fresh.sudoers = keep(old.sudoers, fresh.sudoers);
      }
      this.groupOut.set(b, fresh);
    }
    if (this.groupOut.size !== blocks.length) {
      const live = new Set(blocks);
      for (const b of this.groupOut.keys()) if (!live.has(b)) this.groupOut.delete(b);
    }
    dirty.clear();
    this.lines = null;
  }

  private sshd(): Buffer {
    this.renderUsers();
    if (!this.sshdBuf) {
      const deny: string[] = [];
      const noPassword: string[] = [];
      for (const b of this.userBlocks.list()) {
        const ub = this.userOut.get(b)!;
        if (ub.deny !== "") deny.push(ub.deny);
        if (ub.noPassword !== "") noPassword.push(ub.noPassword);
      }
      this.sshdBuf = Buffer.from(sshdText(deny.join(" "), noPassword.join(",")));
    }
    return this.sshdBuf;
  }

  /**
   * The file's content as a list of buffers (empty blocks left out). Unchanged blocks come back
   * as the same Buffer objects as last time.
   */
  render(file: FileId): Buffer[] {
    if (file === "sshd") return [this.sshd()];
    const parts: Buffer[] = [];
    const add = (buf: Buffer) => {
      if (buf.length) parts.push(buf);
    };
    if (file === "group" || file === "gshadow" || file === "sudoers") this.renderGroups();
    if (file !== "group" && file !== "gshadow") this.renderUsers();
    if (file === "group" || file === "gshadow") {
      for (const b of this.groupBlocks.list()) add(this.groupOut.get(b)![file]);
    } else if (file === "sudoers") {
      parts.push(this.headerBuf);
      for (const b of this.userBlocks.list()) add(this.userOut.get(b)!.sudoers);
      for (const b of this.groupBlocks.list()) add(this.groupOut.get(b)!.sudoers);
    } else {
      for (const b of this.userBlocks.list()) add(this.userOut.get(b)![file]);
    }
    return parts;
  }

  /**
   * Re-render every dirty block in turns of a few milliseconds, so that the render(All) that
   * follows only assembles blocks (at 1,000,000 users rendering from scratch takes seconds).
   */
  async renderSliced(slicer: Slicer): Promise<void> {
    await slicer.drive(this.renderGroupSteps());
    await slicer.drive(this.renderUserSteps());
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
