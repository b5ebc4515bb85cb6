// Bulk export of users and groups (issue 13 point 6): `gatehouse export` and user.export.
// Every local account that is not a built-in, with every field `gatehouse import` reads, in a
// stable order (groups by gid, users by uid, lists sorted), so export → import into an empty
// store → export gives the same bytes. Password hashes only when asked for (`withHashes`): the
// callers allow that to FULL_ADMIN alone, write the file 0600 and audit it.

import type { Db } from "../store/db.js";
import { csvHeader, csvLine, GROUP_COLUMNS, HASH_COLUMNS, jsonDocument, USER_COLUMNS, type GroupRecord, type UserRecord } from "./transfer-format.js";

export interface ExportOptions {
  withHashes?: boolean;
}

export interface ExportData {
  groups: GroupRecord[];
  users: UserRecord[];
}

const list = (text: string) => (JSON.parse(text) as string[]).slice();
const idmapOf = (v: string | null): "DIRECT" | number | null => (v === null ? null : v === "DIRECT" ? "DIRECT" : Number(v));

/** Read every non-built-in group and user (three queries, whatever the count). */
export async function readExport(db: Db, opts: ExportOptions = {}): Promise<ExportData> {
  const groupRows = await db.selectFrom("groups").selectAll().where("builtin", "=", 0).orderBy("gid").execute();
  const gidOf = new Map((await db.selectFrom("groups").select(["id", "gid"]).execute()).map((g) => [g.id, g.gid]));
  const userRows = await db.selectFrom("users").selectAll().where("builtin", "=", 0).where("source", "=", "LOCAL").orderBy("uid").execute();
  const aux = new Map<number, number[]>();
  for (const m of await db.selectFrom("memberships").select(["user_id", "group_id"]).execute()) {
    const gid = gidOf.get(m.group_id);
    if (gid === undefined) continue;
    let l = aux.get(m.user_id);
    if (!l) aux.set(m.user_id, (l = []));
    l.push(gid);
  }
  const groups = groupRows.map(
    (g): GroupRecord => ({ name: g.name, gid: g.gid, smb: !!g.smb, sudo_commands: list(g.sudo_commands), sudo_commands_nopasswd: list(g.sudo_commands_nopasswd), userns_idmap: idmapOf(g.userns_idmap) }),
  );
  const users = userRows.map((u): UserRecord => {
    const r: UserRecord = {
      username: u.username,
      uid: u.uid,
      full_name: u.full_name,
      email: u.email || null,
      group: gidOf.get(u.group_id) ?? 65534,
      groups: (aux.get(u.id) ?? []).sort((a, b) => a - b),
      home: u.home,
      shell: u.shell,
      smb: !!u.smb,
      password_disabled: !!u.password_disabled,
      ssh_password_enabled: !!u.ssh_password_enabled,
      locked: !!u.locked,
      sshpubkey: u.sshpubkey || null,
      sudo_commands: list(u.sudo_commands),
      sudo_commands_nopasswd: list(u.sudo_commands_nopasswd),
      userns_idmap: idmapOf(u.userns_idmap),
    };
    if (opts.withHashes) {
      r.unixhash = u.unixhash ?? "*";
      r.smbhash = u.smbhash ?? "*";
      r.last_password_change = u.last_password_change === null ? null : Number(u.last_password_change);
    }
    return r;
  });
  return { groups, users };
}

export type ExportFormat = "json" | "csv";

/** The users file (CSV) or the whole document (JSON), as chunks of text. */
export function* renderExport(data: ExportData, format: ExportFormat, opts: ExportOptions = {}): Generator<string> {
  if (format === "json") {
    yield* jsonDocument(data.groups, data.users);
    return;
  }
  const columns = opts.withHashes ? [...USER_COLUMNS, ...HASH_COLUMNS] : USER_COLUMNS;
  yield csvHeader(columns);
  for (const u of data.users) yield csvLine(columns, u);
}

/** The groups file (CSV). */
export function* renderGroupsCsv(data: ExportData): Generator<string> {
  yield csvHeader(GROUP_COLUMNS);
  for (const g of data.groups) yield csvLine(GROUP_COLUMNS, g);
}
