// Login shell choices (reference §1.6, upstream `user.shell_choices`) and the default shell
// (SPEC.md "What existing clients need").
//
// Shells come from the provisioned host root's /etc/shells so that the choices match what the host
// can actually run. The demo host root usually has no /etc/shells; the machine's own list is then
// the best description of what is installed.

import { readFileSync } from "node:fs";
import path from "node:path";

export const NOLOGIN_SHELL = "/usr/sbin/nologin";
const ZSH = "/usr/bin/zsh";
const BASH = "/usr/bin/bash";

function readShellsFile(hostRoot: string): string {
  for (const file of [path.join(hostRoot, "etc", "shells"), "/etc/shells"]) {
    try {
      return readFileSync(file, "utf8");
    } catch {
      // missing or unreadable: try the next one
    }
  }
  return "";
}

/** The /usr/bin/* entries of the effective /etc/shells, in file order, without duplicates. */
function listedShells(hostRoot: string): string[] {
  const shells: string[] = [];
  for (const raw of readShellsFile(hostRoot).split("\n")) {
    // Debian lists both /bin/x and /usr/bin/x for the same binary (merged /usr); upstream keeps
    // only the /usr/bin spelling.
    const line = raw.trim();
    if (line.startsWith("/usr/bin/") && !shells.includes(line)) shells.push(line);
  }
  return shells;
}

/**
 * `user.shell_choices`: `{"/usr/sbin/nologin": "nologin", <each /usr/bin/* shell>: <basename>}`.
 * `privilegedGroups` is accepted for parity with the reference, where it unlocks the appliance's
 * own `/usr/bin/cli` shells; Gatehouse has no such shells, so it changes nothing.
 */
export function readShellChoices(hostRoot: string, privilegedGroups = false): Record<string, string> {
  void privilegedGroups;
  const choices: Record<string, string> = { [NOLOGIN_SHELL]: "nologin" };
  for (const shell of listedShells(hostRoot)) choices[shell] = path.posix.basename(shell);
  return choices;
}

/** `/usr/bin/zsh` when the host root lists it in /etc/shells, else `/usr/bin/bash`. */
export function defaultShell(hostRoot: string): string {
  return listedShells(hostRoot).includes(ZSH) ? ZSH : BASH;
}
