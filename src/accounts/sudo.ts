// sudo command list validation (reference §1.7, upstream `validate_sudo_commands`), including the
// pieces of Python it relies on — shlex.split, posixpath.normpath and glob.glob — so that the same
// input gets the same verdict and the same message as on the appliance.
//
// Paths are looked up inside `root` (the host root Gatehouse provisions into; "/" on a real host)
// while messages show the command as the user wrote it.

import { readdirSync, statSync, lstatSync, accessSync, constants as fsConstants } from "node:fs";
import path from "node:path";
import type { ValidationErrors } from "../server/errors.js";
import { pyRepr, unrenderableChar } from "./names.js";

/** Longest accepted entry (sudo itself has no fixed bound; a longer one is not a command line). */
export const SUDO_COMMAND_MAX_LENGTH = 1024;

export interface SudoValidationOptions {
  /** Directory that stands for "/" when resolving executables. Default "/". */
  root?: string;
}

/**
 * Validate `sudo_commands` / `sudo_commands_nopasswd`. Errors go to `<attr>.<index>`.
 * Returns true when every entry is acceptable.
 */
export function validateSudoCommands(errors: ValidationErrors, attr: string, commands: string[], { root = "/" }: SudoValidationOptions = {}): boolean {
  const before = errors.size;
  // "ALL" grants everything, so mixing it with specific commands is meaningless; upstream reports
  // it once, on the first "ALL", and checks nothing else.
  if (commands.includes("ALL") && commands.length !== 1) {
    errors.add(`${attr}.${commands.indexOf("ALL")}`, "ALL cannot be used with other commands", "sudo.all_with_others");
    return false;
  }
  commands.forEach((command, i) => {
    const message = checkCommand(command, root);
    if (message !== null) errors.add(`${attr}.${i}`, message, "sudo.invalid_command");
  });
  return errors.size === before;
}

function checkCommand(command: string, root: string): string | null {
  // The API model types entries as NonEmptyString.
  if (command.length === 0) return "String should have at least 1 character";
  // Beyond the reference: an entry sudoers cannot hold as written is refused here, never dropped
  // (or mangled) when the file is rendered.
  if (command.length > SUDO_COMMAND_MAX_LENGTH) return `Cannot exceed ${SUDO_COMMAND_MAX_LENGTH} characters in length`;
  const bad = unrenderableChar(command);
  if (bad !== null) return `Control characters cannot be written to sudoers (found ${pyRepr(bad)})`;
  let tokens: string[];
  try {
    tokens = shlexSplit(command);
  } catch (e) {
    return (e as Error).message;
  }
  const executable = tokens[0];
  // Whitespace only: there is no executable, so it certainly is not an absolute one.
  if (executable === undefined) return "Executable must be an absolute path";
  if (tokens.some((t) => t !== t.trim())) return "An argument may not begin or end with a space (sudo matches arguments joined by spaces)";
  if (executable === "ALL") return tokens.length === 1 ? null : "ALL takes no arguments";
  if (executable === "sudoedit") return checkSudoedit(tokens.slice(1));
  if (executable.endsWith("/sudoedit")) return 'sudoedit is built into sudo and is written without a path (sudoers(5)): use "sudoedit <file>"';
  if (!executable.startsWith("/")) return "Executable must be an absolute path";
  const emptyAt = tokens.indexOf("", 1);
  if (emptyAt !== -1 && tokens.length > 2) return 'An empty argument can only stand alone (sudoers reads "" as "no arguments")';
  if (stripTrailingSlashes(pyNormpath(executable)) !== stripTrailingSlashes(executable)) {
    return "Executable path must be normalized";
  }
  const matches = pyGlob(executable, root);
  if (matches.length === 0) return `No paths matching ${pyRepr(executable)} exist`;
  // A trailing slash names a directory: sudo then allows every command in it.
  if (!executable.endsWith("/") && !matches.some((m) => isExecutableFile(hostPath(root, m)))) {
    return `None of the paths matching ${pyRepr(executable)} is executable`;
  }
  return null;
}

/** `sudoedit file…`: sudo's built-in editor; each file an absolute, normalised path. */
function checkSudoedit(files: string[]): string | null {
  for (const f of files) {
    if (!f.startsWith("/")) return "sudoedit arguments must be absolute paths";
    if (pyNormpath(f) !== f) return "sudoedit arguments must be normalized paths";
  }
  return null;
}

/**
 * One entry of `sudo_commands` as a sudoers Cmnd: split like the shell, then each word escaped
 * for the sudoers lexer (`\`, `,`, `:`, `=`, `#` and spaces take a backslash; a leading `^` too,
 * so an argument is never taken for a regular expression). A lone empty argument is written `""`
 * (sudoers: no arguments allowed). Returns null for an entry validation refuses; the provisioner
 * renders only validated entries, so null there means a store written by something else.
 */
export function renderSudoCommand(command: string): string | null {
  if (command.length > SUDO_COMMAND_MAX_LENGTH || unrenderableChar(command) !== null) return null;
  let words: string[];
  try {
    words = shlexSplit(command);
  } catch {
    return null;
  }
  if (words.length === 0) return null;
  if (words[0] === "ALL") return words.length === 1 ? "ALL" : null;
  if (words[0] !== "sudoedit" && (!words[0].startsWith("/") || words[0].endsWith("/sudoedit"))) return null;
  if (words.indexOf("", 1) !== -1 && words.length > 2) return null;
  if (words.some((w) => w !== w.trim())) return null; // sudoers cannot end a word with an escaped space
  return words.map((w) => (w === "" ? '""' : w.replace(/[\\,:=# ]/g, (c) => `\\${c}`).replace(/^\^/, "\\^"))).join(" ");
}

function stripTrailingSlashes(p: string): string {
  return p.replace(/\/+$/, "");
}

function hostPath(root: string, p: string): string {
  return root === "/" ? p : path.join(root, p);
}

/** os.path.isfile(p) and os.access(p, X_OK): follows symlinks. */
function isExecutableFile(p: string): boolean {
  try {
    if (!statSync(p).isFile()) return false;
    accessSync(p, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------
// shlex.split (POSIX mode, no comments, whitespace splitting) — messages are Python's.

const SHLEX_WHITESPACE = " \t\r\n";

export function shlexSplit(s: string): string[] {
  const tokens: string[] = [];
  let token = "";
  let inToken = false; // a token has started (possibly an empty quoted one: '' is a token)
  let i = 0;
  while (i < s.length) {
    const ch = s[i];
    if (SHLEX_WHITESPACE.includes(ch)) {
      if (inToken) tokens.push(token);
      token = "";
      inToken = false;
      i++;
    } else if (ch === "\\") {
      if (i + 1 >= s.length) throw new Error("No escaped character");
      token += s[i + 1];
      inToken = true;
      i += 2;
    } else if (ch === "'") {
      const end = s.indexOf("'", i + 1);
      if (end === -1) throw new Error("No closing quotation");
      token += s.slice(i + 1, end);
      inToken = true;
      i = end + 1;
    } else if (ch === '"') {
      // Inside double quotes a backslash escapes only `"` and `\`; otherwise it is kept.
      i++;
      for (;;) {
        if (i >= s.length) throw new Error("No closing quotation");
        const c = s[i];
        if (c === '"') break;
        if (c === "\\") {
          if (i + 1 >= s.length) throw new Error("No escaped character");
          const next = s[i + 1];
          token += next === '"' || next === "\\" ? next : "\\" + next;
          i += 2;
        } else {
          token += c;
          i++;
        }
      }
      inToken = true;
      i++;
    } else {
      token += ch;
      inToken = true;
      i++;
    }
  }
  if (inToken) tokens.push(token);
  return tokens;
}

// ---------------------------------------------------------------------------------------------
// posixpath.normpath — differs from node's path.normalize in keeping exactly two leading slashes
// and in returning "." for "".

export function pyNormpath(p: string): string {
  if (p === "") return ".";
  let initialSlashes = p.startsWith("/") ? 1 : 0;
  if (p.startsWith("//") && !p.startsWith("///")) initialSlashes = 2;
  const out: string[] = [];
  for (const comp of p.split("/")) {
    if (comp === "" || comp === ".") continue;
    if (comp !== ".." || (!initialSlashes && out.length === 0) || (out.length > 0 && out[out.length - 1] === "..")) {
      out.push(comp);
    } else if (out.length > 0) {
      out.pop();
    }
  }
  const joined = "/".repeat(initialSlashes) + out.join("/");
  return joined || ".";
}

// ---------------------------------------------------------------------------------------------
// glob.glob (non-recursive, hidden files only matched by patterns that start with "."), evaluated
// inside `root`. Returned paths are in the pattern's own (un-rooted) form.

const MAGIC = /[*?[]/;

function pySplit(p: string): [string, string] {
  const i = p.lastIndexOf("/") + 1;
  const head = p.slice(0, i);
  const tail = p.slice(i);
  // Strip trailing slashes from the head unless it is all slashes (posixpath.split).
  const stripped = head.replace(/\/+$/, "");
  return [stripped === "" ? head : stripped, tail];
}

function pyJoin(a: string, b: string): string {
  if (a === "" || a.endsWith("/")) return a + b;
  return a + "/" + b;
}

function lexists(p: string): boolean {
  try {
    lstatSync(p);
    return true;
  } catch {
    return false;
  }
}

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

export function pyGlob(pattern: string, root = "/"): string[] {
  return iglob(pattern, root, false);
}

function iglob(pattern: string, root: string, dirOnly: boolean): string[] {
  const [dirname, basename] = pySplit(pattern);
  if (!MAGIC.test(pattern)) {
    if (basename) return lexists(hostPath(root, pattern)) ? [pattern] : [];
    // A pattern ending with a slash matches only a directory.
    return isDir(hostPath(root, dirname)) ? [pattern] : [];
  }
  // Commands are always absolute here, so `dirname` is never empty.
  const dirs = dirname !== pattern && MAGIC.test(dirname) ? iglob(dirname, root, true) : [dirname];
  const results: string[] = [];
  for (const dir of dirs) {
    const names = MAGIC.test(basename) ? globInDir(hostPath(root, dir), basename, dirOnly) : globLiteral(hostPath(root, dir), basename);
    for (const name of names) results.push(pyJoin(dir, name));
  }
  return results;
}

function globLiteral(dir: string, basename: string): string[] {
  if (basename) return lexists(path.join(dir, basename)) ? [basename] : [];
  return isDir(dir) ? [basename] : [];
}

function globInDir(dir: string, pattern: string, dirOnly: boolean): string[] {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return [];
  }
  const re = fnmatchRegExp(pattern);
  return entries.filter((name) => {
    if (name.startsWith(".") && !pattern.startsWith(".")) return false;
    if (!re.test(name)) return false;
    return !dirOnly || isDir(path.join(dir, name));
  });
}

function classChar(c: string): string {
  return `\\u{${c.codePointAt(0)!.toString(16)}}`;
}

/** fnmatch.translate for one path component: `*`, `?`, `[...]` / `[!...]`, everything else literal. */
export function fnmatchRegExp(pattern: string): RegExp {
  const chars = [...pattern];
  let re = "";
  let i = 0;
  while (i < chars.length) {
    const c = chars[i++];
    if (c === "*") {
      re += "[^]*";
      while (chars[i] === "*") i++;
    } else if (c === "?") {
      re += "[^]";
    } else if (c === "[") {
      let j = i;
      if (chars[j] === "!") j++;
      if (chars[j] === "]") j++;
      while (j < chars.length && chars[j] !== "]") j++;
      if (j >= chars.length) {
        re += classChar("["); // unterminated: a literal "["
        continue;
      }
      let body = chars.slice(i, j);
      i = j + 1;
      const negate = body[0] === "!";
      if (negate) body = body.slice(1);
      // Collect single characters and ranges; reversed ranges match nothing (Python drops them).
      let set = "";
      for (let k = 0; k < body.length; k++) {
        if (k + 2 < body.length && body[k + 1] === "-") {
          if (body[k].codePointAt(0)! <= body[k + 2].codePointAt(0)!) set += `${classChar(body[k])}-${classChar(body[k + 2])}`;
          k += 2;
        } else {
          set += classChar(body[k]);
        }
      }
      if (set === "") re += negate ? "[^]" : "(?!)";
      else re += negate ? `[^${set}]` : `[${set}]`;
    } else {
      re += classChar(c);
    }
  }
  return new RegExp(`^(?:${re})$`, "u");
}
