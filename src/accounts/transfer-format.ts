// The file format of `gatehouse import` / `gatehouse export` (and user.import / user.export):
// JSON (`{"format": "gatehouse-accounts", "version": 1, "groups": [...], "users": [...]}`, one
// record per line) or CSV (RFC 4180; a users file whose columns are the user entry's fields, or a
// groups file; the header says which). In CSV, list columns are JSON arrays, booleans
// `true`/`false`, an empty cell is null, and the SSH key column escapes newlines as `\n` (and a
// backslash as `\\`) so one account stays on one line.

export const FORMAT_NAME = "gatehouse-accounts";
export const FORMAT_VERSION = 1;

/** One group as exported and imported. Ids are the host's gid. */
export interface GroupRecord {
  name: string;
  gid: number;
  smb: boolean;
  sudo_commands: string[];
  sudo_commands_nopasswd: string[];
  userns_idmap: "DIRECT" | number | null;
  /** gshadow's group administrators, by username (Gatehouse's own field: migration 018). */
  admins: string[];
}

/** One user: the user entry's fields; `group` and `groups` are gids. Hashes only --with-hashes. */
export interface UserRecord {
  username: string;
  uid: number;
  full_name: string;
  email: string | null;
  group: number;
  groups: number[];
  home: string;
  shell: string;
  smb: boolean;
  password_disabled: boolean;
  ssh_password_enabled: boolean;
  locked: boolean;
  sshpubkey: string | null;
  sudo_commands: string[];
  sudo_commands_nopasswd: string[];
  userns_idmap: "DIRECT" | number | null;
  unixhash?: string | null;
  smbhash?: string | null;
  last_password_change?: number | null;
  /** Import only: a clear-text password, hashed on import (slow; prefer unixhash). */
  password?: string | null;
}

export const GROUP_COLUMNS = ["name", "gid", "smb", "sudo_commands", "sudo_commands_nopasswd", "userns_idmap", "admins"] as const;
export const USER_COLUMNS = [
  "username",
  "uid",
  "full_name",
  "email",
  "group",
  "groups",
  "home",
  "shell",
  "smb",
  "password_disabled",
  "ssh_password_enabled",
  "locked",
  "sshpubkey",
  "sudo_commands",
  "sudo_commands_nopasswd",
  "userns_idmap",
] as const;
export const HASH_COLUMNS = ["unixhash", "smbhash", "last_password_change"] as const;
/** Columns an import accepts besides the exported ones. */
export const IMPORT_ONLY_COLUMNS = ["password"] as const;

export type Kind = "users" | "groups";

/** A record as read from a file, before validation: raw values, with where it came from. */
export interface RawRecord {
  kind: Kind;
  /** 1-based line of the file where the record starts. */
  line: number;
  values: Record<string, unknown>;
}

export class FileFormatError extends Error {
  constructor(
    readonly line: number,
    message: string,
  ) {
    super(`line ${line}: ${message}`);
  }
}

// ---------------------------------------------------------------------------------------------
// CSV

function csvCell(v: string): string {
  return /[",\r\n]/.test(v) || v !== v.trim() ? `"${v.replaceAll('"', '""')}"` : v;
}

export function escapeKey(v: string): string {
  return v.replaceAll("\\", "\\\\").replaceAll("\r", "\\r").replaceAll("\n", "\\n");
}

export function unescapeKey(v: string): string {
  return v.replace(/\\(\\|n|r)/g, (_m, c: string) => (c === "n" ? "\n" : c === "r" ? "\r" : "\\"));
}

function cellOf(column: string, value: unknown): string {
  if (value === null || value === undefined) return "";
  if (column === "sshpubkey") return escapeKey(String(value));
  if (Array.isArray(value)) return JSON.stringify(value);
  return String(value);
}

export function csvHeader(columns: readonly string[]): string {
  return `${columns.join(",")}\n`;
}

export function csvLine(columns: readonly string[], record: object): string {
  const r = record as Record<string, unknown>;
  return `${columns.map((c) => csvCell(cellOf(c, r[c]))).join(",")}\n`;
}

/** RFC 4180 records with the line each starts on. Quoted cells may span lines. */
export function parseCsv(text: string): { line: number; cells: string[] }[] {
  const out: { line: number; cells: string[] }[] = [];
  let i = 0;
  let line = 1;
  const n = text.length;
  if (text.charCodeAt(0) === 0xfeff) i = 1; // a byte-order mark
  while (i < n) {
    const start = line;
    const cells: string[] = [];
    for (;;) {
      let cell = "";
      if (text[i] === '"') {
        i++;
        for (;;) {
          if (i >= n) throw new FileFormatError(start, "a quoted cell is not closed");
          const c = text[i];
          if (c === '"') {
            if (text[i + 1] === '"') {
              cell += '"';
              i += 2;
              continue;
            }
            i++;
            break;
          }
          if (c === "\n") line++;
          cell += c;
          i++;
        }
        if (i < n && text[i] !== "," && text[i] !== "\n" && text[i] !== "\r") throw new FileFormatError(line, "text after a quoted cell");
      } else {
        let j = i;
        while (j < n && text[j] !== "," && text[j] !== "\n" && text[j] !== "\r") j++;
        cell = text.slice(i, j);
        if (cell.includes('"')) throw new FileFormatError(line, "a quote inside an unquoted cell");
        i = j;
      }
      cells.push(cell);
      if (text[i] === ",") {
        i++;
        continue;
      }
      break;
    }
    if (text[i] === "\r") i++;
    if (text[i] === "\n") {
      i++;
      line++;
    }
    if (!(cells.length === 1 && cells[0] === "")) out.push({ line: start, cells });
  }
  return out;
}

const BOOL_COLUMNS = new Set(["smb", "password_disabled", "ssh_password_enabled", "locked"]);
const INT_COLUMNS = new Set(["uid", "gid", "group", "last_password_change"]);
const LIST_COLUMNS = new Set(["groups", "sudo_commands", "sudo_commands_nopasswd", "admins"]);

/**
 * A CSV cell as the JSON value it stands for. Values that do not parse are passed on as text, so
 * validation names the field (`uid: not an integer`) rather than the parser.
 */
function cellValue(column: string, cell: string): unknown {
  if (cell === "") return LIST_COLUMNS.has(column) ? [] : null;
  if (BOOL_COLUMNS.has(column)) return cell === "true" ? true : cell === "false" ? false : cell;
  if (INT_COLUMNS.has(column)) return /^-?\d+$/.test(cell) ? Number(cell) : cell;
  if (column === "userns_idmap") return /^\d+$/.test(cell) ? Number(cell) : cell;
  if (LIST_COLUMNS.has(column)) {
    try {
      return JSON.parse(cell);
    } catch {
      return cell;
    }
  }
  if (column === "sshpubkey") return unescapeKey(cell);
  return cell;
}

const KNOWN_COLUMNS = new Set<string>([...USER_COLUMNS, ...GROUP_COLUMNS, ...HASH_COLUMNS, ...IMPORT_ONLY_COLUMNS]);

export function readCsv(text: string): RawRecord[] {
  const rows = parseCsv(text);
  if (!rows.length) return [];
  const header = rows[0].cells.map((c) => c.trim());
  const kind: Kind = header.includes("username") ? "users" : header.includes("gid") && header.includes("name") ? "groups" : (null as never);
  if (!kind) throw new FileFormatError(rows[0].line, "the header names neither a users file (username, …) nor a groups file (name, gid, …)");
  for (const h of header) if (!KNOWN_COLUMNS.has(h)) throw new FileFormatError(rows[0].line, `unknown column ${JSON.stringify(h)}`);
  if (new Set(header).size !== header.length) throw new FileFormatError(rows[0].line, "a column is named twice");
  return rows.slice(1).map((r) => {
    if (r.cells.length !== header.length) throw new FileFormatError(r.line, `${r.cells.length} cells where the header has ${header.length}`);
    const values: Record<string, unknown> = {};
    header.forEach((h, k) => {
      values[h] = cellValue(h, r.cells[k]);
    });
    return { kind, line: r.line, values };
  });
}

// ---------------------------------------------------------------------------------------------
// JSON

/** Our JSON: the envelope, then one record per line (so errors can name a line). */
export function jsonDocument(groups: Iterable<GroupRecord>, users: Iterable<UserRecord>): Iterable<string> {
  return (function* () {
    yield `{"format":${JSON.stringify(FORMAT_NAME)},"version":${FORMAT_VERSION},\n"groups":[\n`;
    let first = true;
    for (const g of groups) {
      yield `${first ? "" : ",\n"}${JSON.stringify(g)}`;
      first = false;
    }
    yield `\n],\n"users":[\n`;
    first = true;
    for (const u of users) {
      yield `${first ? "" : ",\n"}${JSON.stringify(u)}`;
      first = false;
    }
    yield "\n]}\n";
  })();
}

export function readJson(text: string): RawRecord[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new FileFormatError(1, `not JSON: ${(e as Error).message}`);
  }
  const d = doc as { format?: unknown; version?: unknown; groups?: unknown; users?: unknown };
  if (!d || typeof d !== "object" || Array.isArray(d)) throw new FileFormatError(1, 'expected {"groups": [...], "users": [...]}');
  if (d.format !== undefined && d.format !== FORMAT_NAME) throw new FileFormatError(1, `format ${JSON.stringify(d.format)} is not ${FORMAT_NAME}`);
  if (d.version !== undefined && d.version !== FORMAT_VERSION) throw new FileFormatError(1, `version ${JSON.stringify(d.version)} is not supported`);
  // Lines of records: ours are one per line after their array's opening line; for any other
  // layout the line is the record's index-based estimate, and the error also names the index.
  const lines = text.split("\n");
  const startOf = (key: string) => lines.findIndex((l) => l.startsWith(`"${key}":[`)) + 2;
  const out: RawRecord[] = [];
  for (const kind of ["groups", "users"] as const) {
    const list = d[kind] ?? [];
    if (!Array.isArray(list)) throw new FileFormatError(1, `${kind} must be a list`);
    const base = startOf(kind);
    list.forEach((v, i) => {
      const line = base > 1 ? base + i : 0;
      if (!v || typeof v !== "object" || Array.isArray(v)) throw new FileFormatError(line, `${kind}[${i}] is not an object`);
      out.push({ kind, line, values: v as Record<string, unknown> });
    });
  }
  return out;
}

/** JSON or CSV, by the first character. */
export function readAccountsFile(text: string): RawRecord[] {
  const first = text.trimStart()[0];
  return first === "{" ? readJson(text) : readCsv(text);
}
