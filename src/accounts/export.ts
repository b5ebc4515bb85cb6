// Bulk export of users and groups (issue 13 point 6): `gatehouse export` and user.export.
// Every local account that is not a built-in, with every field `gatehouse import` reads, in a
// stable order (groups by gid, users by uid, lists sorted), so export → import into an empty
// store → export gives the same bytes. Password hashes only when asked for (`withHashes`): the
// callers allow that to FULL_ADMIN alone, write the file 0600 and audit it.

import { createWriteStream, rmSync } from "node:fs";
import { once } from "node:events";
import type { Db, Store } from "../store/db.js";
import type { Session } from "../auth/session.js";
import { CallError } from "../server/errors.js";
import { downloadsOf } from "../server/downloads.js";
import { holdsFullAdmin } from "../access/authorize.js";
import { csvHeader, csvLine, GROUP_COLUMNS, HASH_COLUMNS, jsonDocument, USER_COLUMNS, type GroupRecord, type UserRecord } from "./transfer-format.js";

/** A user record's columns as the users table holds them (its groups are read by id). */
const STORED_USER_COLUMNS = USER_COLUMNS.filter((c): c is Exclude<(typeof USER_COLUMNS)[number], "group" | "groups"> => c !== "group" && c !== "groups");

export interface ExportOptions {
  withHashes?: boolean;
}

export interface ExportData {
  groups: GroupRecord[];
  users: UserRecord[];
}

const list = (text: string): string[] => (text === "[]" ? [] : (JSON.parse(text) as string[]));
const idmapOf = (v: string | null): "DIRECT" | number | null => (v === null ? null : v === "DIRECT" ? "DIRECT" : Number(v));

const idsOf = (text: string): number[] => (text && text !== "[]" ? (JSON.parse(text) as number[]) : []);

/** users.id → username of every group administrator named in `groups` (few: one query each 500). */
async function adminNames(db: Db, groups: { admins: string }[]): Promise<Map<number, string>> {
  const ids = [...new Set(groups.flatMap((g) => idsOf(g.admins)))];
  const out = new Map<number, string>();
  for (let i = 0; i < ids.length; i += 500) {
    for (const u of await db
      .selectFrom("users")
      .select(["id", "username"])
      .where("id", "in", ids.slice(i, i + 500))
      .execute())
      out.set(u.id, u.username);
  }
  return out;
}

/** Read every non-built-in group and user (three queries, whatever the count). */
export async function readExport(db: Db, opts: ExportOptions = {}): Promise<ExportData> {
  const groupRows = await db.selectFrom("groups").select(["name", "gid", "smb", "sudo_commands", "sudo_commands_nopasswd", "userns_idmap", "admins"]).where("builtin", "=", 0).orderBy("gid").execute();
  const gidOf = new Map((await db.selectFrom("groups").select(["id", "gid"]).execute()).map((g) => [g.id, g.gid]));
  // Only the columns a record holds (not every column of 100,000 rows: that was most of the cost).
  const userRows = await db
    .selectFrom("users")
    .select(["id", "group_id", ...STORED_USER_COLUMNS, ...(opts.withHashes ? HASH_COLUMNS : [])])
    .where("builtin", "=", 0)
    .where("source", "=", "LOCAL")
    .orderBy("uid")
    .execute();
  const aux = new Map<number, number[]>();
  for (const m of await db.selectFrom("memberships").select(["user_id", "group_id"]).execute()) {
    const gid = gidOf.get(m.group_id);
    if (gid === undefined) continue;
    let l = aux.get(m.user_id);
    if (!l) aux.set(m.user_id, (l = []));
    l.push(gid);
  }
  const adminName = await adminNames(db, groupRows);
  const groups = groupRows.map(
    (g): GroupRecord => ({
      name: g.name,
      gid: g.gid,
      smb: !!g.smb,
      sudo_commands: list(g.sudo_commands),
      sudo_commands_nopasswd: list(g.sudo_commands_nopasswd),
      userns_idmap: idmapOf(g.userns_idmap),
      admins: idsOf(g.admins).flatMap((id) => adminName.get(id) ?? []),
    }),
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

// ---------------------------------------------------------------------------------------------
// user.export (the API job): the file is offered for one download bound to the job and the
// session (src/server/downloads.ts), since a WebSocket frame is capped at 64 KiB.

export interface ExportJobContext {
  app: { store: Store; config: { dataDir: string } };
  session: Session | null;
  job?: { id: number; setProgress(percent: number | null, description?: string | null, extra?: unknown): void };
}

export interface ExportJobResult {
  format: "JSON" | "CSV";
  users: number;
  groups: number;
  url: string;
  expires_at: Date;
}

/** Export as a job; password hashes only for a FULL_ADMIN session. */
export async function exportAccountsJob(ctx: ExportJobContext, opts: { format: "JSON" | "CSV"; groups: boolean; with_hashes: boolean }): Promise<ExportJobResult> {
  if (opts.with_hashes && !(ctx.session && holdsFullAdmin(ctx.session))) {
    throw new CallError("user_export.with_hashes: exporting password hashes requires the FULL_ADMIN role.", "access.full_admin_required");
  }
  if (opts.groups && opts.format !== "CSV") throw new CallError("user_export.groups: the groups file is a CSV (the JSON holds both).", "import.field_invalid");
  ctx.job?.setProgress(0, "Reading accounts");
  const data = await readExport(ctx.app.store.db, { withHashes: opts.with_hashes });
  const format = opts.format.toLowerCase() as ExportFormat;
  const downloads = downloadsOf(ctx.app);
  const file = downloads.newFile(format);
  const out = createWriteStream(file, { mode: 0o600 });
  try {
    for (const chunk of opts.groups ? renderGroupsCsv(data) : renderExport(data, format, { withHashes: opts.with_hashes })) {
      if (!out.write(chunk)) await once(out, "drain");
    }
    out.end();
    await once(out, "close");
  } catch (err) {
    out.destroy();
    rmSync(file, { force: true });
    throw err;
  }
  ctx.job?.setProgress(100, `${data.users.length} users, ${data.groups.length} groups`);
  const ttl = 10 * 60_000;
  const name = opts.groups ? "groups.csv" : `accounts.${format}`;
  const url = downloads.offer(
    {
      jobId: ctx.job?.id ?? 0,
      file,
      filename: name,
      contentType: format === "csv" ? "text/csv; charset=utf-8" : "application/json",
      sessionId: ctx.session?.id ?? null,
      ephemeral: !!ctx.session?.ephemeral,
    },
    ttl,
  );
  return { format: opts.format, users: data.users.length, groups: data.groups.length, url, expires_at: new Date(Date.now() + ttl) };
}
