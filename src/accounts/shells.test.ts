import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, mkdirSync, writeFileSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { defaultShell, readShellChoices } from "./shells.js";

function hostRoot(shells: string | null): string {
  const root = mkdtempSync(path.join(tmpdir(), "gh-shells-"));
  if (shells !== null) {
    mkdirSync(path.join(root, "etc"));
    writeFileSync(path.join(root, "etc/shells"), shells);
  }
  return root;
}

const DEBIAN = `# /etc/shells: valid login shells
/bin/sh
/usr/bin/sh
/bin/bash
/usr/bin/bash
/bin/rbash
/usr/bin/rbash
/usr/bin/dash
/usr/bin/tmux
/bin/zsh
/usr/bin/zsh
  /usr/bin/fish  
/usr/local/bin/nu
`;

test("shell choices: nologin plus the /usr/bin entries of the host root's /etc/shells", (t) => {
  const root = hostRoot(DEBIAN);
  t.after(() => rmSync(root, { recursive: true }));
  assert.deepEqual(readShellChoices(root, false), {
    "/usr/sbin/nologin": "nologin",
    "/usr/bin/sh": "sh",
    "/usr/bin/bash": "bash",
    "/usr/bin/rbash": "rbash",
    "/usr/bin/dash": "dash",
    "/usr/bin/tmux": "tmux",
    "/usr/bin/zsh": "zsh",
    "/usr/bin/fish": "fish",
  });
  // Gatehouse has no appliance CLI shells, so privileged groups see the same list.
  assert.deepEqual(readShellChoices(root, true), readShellChoices(root, false));
  assert.equal(defaultShell(root), "/usr/bin/zsh");
});

test("default shell is bash when zsh is not listed", (t) => {
  const root = hostRoot("/usr/bin/bash\n/bin/zsh\n");
  t.after(() => rmSync(root, { recursive: true }));
  assert.equal(defaultShell(root), "/usr/bin/bash");
  assert.deepEqual(readShellChoices(root, false), { "/usr/sbin/nologin": "nologin", "/usr/bin/bash": "bash" });
});

test("an empty /etc/shells offers only nologin", (t) => {
  const root = hostRoot("");
  t.after(() => rmSync(root, { recursive: true }));
  assert.deepEqual(readShellChoices(root, false), { "/usr/sbin/nologin": "nologin" });
  assert.equal(defaultShell(root), "/usr/bin/bash");
});

test("a host root without etc/shells falls back to the machine's /etc/shells", (t) => {
  const root = hostRoot(null);
  t.after(() => rmSync(root, { recursive: true }));
  let real = "";
  try {
    real = readFileSync("/etc/shells", "utf8");
  } catch {
    // no /etc/shells on this machine either
  }
  const expected: Record<string, string> = { "/usr/sbin/nologin": "nologin" };
  for (const line of real.split("\n").map((l) => l.trim())) {
    if (line.startsWith("/usr/bin/")) expected[line] = path.basename(line);
  }
  assert.deepEqual(readShellChoices(root, false), expected);
  assert.equal(defaultShell(root), "/usr/bin/zsh" in expected ? "/usr/bin/zsh" : "/usr/bin/bash");
});
