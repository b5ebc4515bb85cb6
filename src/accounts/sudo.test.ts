import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, mkdirSync, writeFileSync, symlinkSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { spawnSync } from "node:child_process";
import fc from "fast-check";
import { ValidationErrors, ERRNO } from "../server/errors.js";
import { fnmatchRegExp, pyGlob, pyNormpath, renderSudoCommand, shlexSplit, validateSudoCommands } from "./sudo.js";

let root: string;

before(() => {
  root = mkdtempSync(path.join(tmpdir(), "gh-sudo-"));
  mkdirSync(path.join(root, "usr/bin"), { recursive: true });
  mkdirSync(path.join(root, "etc"));
  mkdirSync(path.join(root, "opt/dir"), { recursive: true });
  for (const name of ["id", "tool-a", "tool-b", ".hidden", "we ird"]) writeFileSync(path.join(root, "usr/bin", name), "#!/bin/sh\n", { mode: 0o755 });
  writeFileSync(path.join(root, "usr/bin/notexec"), "", { mode: 0o644 });
  writeFileSync(path.join(root, "etc/hostname"), "host\n", { mode: 0o644 });
  symlinkSync("id", path.join(root, "usr/bin/link"));
  symlinkSync("missing", path.join(root, "usr/bin/dangling"));
});

after(() => rmSync(root, { recursive: true, force: true }));

function check(commands: string[], attr = "user_create.sudo_commands") {
  const errors = new ValidationErrors();
  const ok = validateSudoCommands(errors, attr, commands, { root });
  assert.equal(ok, errors.size === 0);
  return errors.errors;
}

const A = "user_create.sudo_commands";

test("valid command lists", () => {
  for (const commands of [
    [],
    ["ALL"],
    ["/usr/bin/id"],
    ["/usr/bin/id -u", "/usr/bin/tool-a --flag 'with space'"],
    ["sudoedit /etc/hostname"], // sudo's built-in editor, written without a path (sudoers(5))
    ["sudoedit"],
    ['/usr/bin/id ""'], // a lone "" is sudoers' "no arguments"
    ["'/usr/bin/we ird' x"],
    ["/usr/bin/link"], // symlink to an executable
    ["/usr/bin/tool-*"],
    ["/usr/bin/t?ol-[ab]"],
    ["/usr/b*/id"],
    ["/usr/bin/.hid*"],
    ["/opt/dir/"], // a directory: everything in it
    ["/opt/d*/"],
    ["//usr/bin/id"], // Python's normpath keeps exactly two leading slashes
  ]) {
    assert.deepEqual(check(commands), [], JSON.stringify(commands));
  }
});

test("entries sudoers cannot hold as written are refused, not dropped when rendered (beyond the reference)", () => {
  const one = (c: string) => check([c]).map((e) => e[1]);
  assert.deepEqual(one("ALL anything"), ["ALL takes no arguments"]); // the reference accepted it; nothing could render it
  assert.match(one("/usr/bin/sudoedit /etc/hostname")[0], /written without a path/);
  assert.deepEqual(one("sudoedit etc/hostname"), ["sudoedit arguments must be absolute paths"]);
  assert.deepEqual(one("sudoedit /etc/../etc/hostname"), ["sudoedit arguments must be normalized paths"]);
  for (const c of ["/usr/bin/id\n/usr/bin/tool-a", "/usr/bin/id \u0000", "/usr/bin/id\r", "/usr/bin/id\t-u", "/usr/bin/id \u202e"]) {
    assert.match(one(c)[0], /^Control characters cannot be written to sudoers/, JSON.stringify(c));
  }
  assert.match(one("/usr/bin/id " + "x".repeat(1100))[0], /Cannot exceed 1024/);
  assert.match(one(`/usr/bin/id "" -u`)[0], /empty argument/);
  assert.match(one(`/usr/bin/id "a "`)[0], /begin or end with a space/); // visudo cannot parse `a\ ` at a word's end
});

test("ALL mixed with other commands: one error, on the first ALL", () => {
  assert.deepEqual(check(["ALL", "/usr/bin/id"]), [[`${A}.0`, "ALL cannot be used with other commands", ERRNO.EINVAL]]);
  assert.deepEqual(check(["id", "ALL", "ALL"], "group_update.sudo_commands_nopasswd"), [["group_update.sudo_commands_nopasswd.1", "ALL cannot be used with other commands", ERRNO.EINVAL]]);
});

test("relative, non-normalized, missing and non-executable paths", () => {
  assert.deepEqual(check(["id"]), [[`${A}.0`, "Executable must be an absolute path", ERRNO.EINVAL]]);
  assert.deepEqual(check(["   "]), [[`${A}.0`, "Executable must be an absolute path", ERRNO.EINVAL]]);
  assert.deepEqual(check([""]), [[`${A}.0`, "String should have at least 1 character", ERRNO.EINVAL]]);
  for (const p of ["/usr/bin/../bin/id", "/usr/./bin/id", "/usr//bin/id", "///usr/bin/id"]) {
    assert.deepEqual(check([p]), [[`${A}.0`, "Executable path must be normalized", ERRNO.EINVAL]], p);
  }
  assert.deepEqual(check(["/usr/bin/nope -x"]), [[`${A}.0`, "No paths matching '/usr/bin/nope' exist", ERRNO.EINVAL]]);
  assert.deepEqual(check(["/usr/bin/tool-[!ab]"]), [[`${A}.0`, "No paths matching '/usr/bin/tool-[!ab]' exist", ERRNO.EINVAL]]);
  // "*" does not match hidden files.
  assert.deepEqual(check(["/usr/bin/*hidden"]), [[`${A}.0`, "No paths matching '/usr/bin/*hidden' exist", ERRNO.EINVAL]]);
  // A trailing slash only matches directories.
  assert.deepEqual(check(["/etc/hostname/"]), [[`${A}.0`, "No paths matching '/etc/hostname/' exist", ERRNO.EINVAL]]);
  assert.deepEqual(check(["/etc/hostname"]), [[`${A}.0`, "None of the paths matching '/etc/hostname' is executable", ERRNO.EINVAL]]);
  assert.deepEqual(check(["/usr/bin/notexe*"]), [[`${A}.0`, "None of the paths matching '/usr/bin/notexe*' is executable", ERRNO.EINVAL]]);
  assert.deepEqual(check(["/opt/dir"]), [[`${A}.0`, "None of the paths matching '/opt/dir' is executable", ERRNO.EINVAL]]);
  // A dangling symlink "exists" for glob but is not an executable file.
  assert.deepEqual(check(["/usr/bin/dangling"]), [[`${A}.0`, "None of the paths matching '/usr/bin/dangling' is executable", ERRNO.EINVAL]]);
  // Python's repr picks double quotes around a path with a single quote in it.
  assert.deepEqual(check([`"/usr/bin/it's"`]), [[`${A}.0`, `No paths matching "/usr/bin/it's" exist`, ERRNO.EINVAL]]);
});

test("shell quoting errors use shlex's messages", () => {
  assert.deepEqual(check(['"/usr/bin/id']), [[`${A}.0`, "No closing quotation", ERRNO.EINVAL]]);
  assert.deepEqual(check(["/usr/bin/id 'x"]), [[`${A}.0`, "No closing quotation", ERRNO.EINVAL]]);
  assert.deepEqual(check(["/usr/bin/id \\"]), [[`${A}.0`, "No escaped character", ERRNO.EINVAL]]);
});

test("every bad entry is reported at its own index", () => {
  assert.deepEqual(check(["id", "/usr/bin/id", "/nope"]), [
    [`${A}.0`, "Executable must be an absolute path", ERRNO.EINVAL],
    [`${A}.2`, "No paths matching '/nope' exist", ERRNO.EINVAL],
  ]);
});

test("the default root is the real filesystem", () => {
  const errors = new ValidationErrors();
  assert.equal(validateSudoCommands(errors, A, ["/usr/bin/env FOO=1"]), true);
});

test("shlexSplit basics", () => {
  assert.deepEqual(shlexSplit(`a "b c" 'd e' f\\ g "h\\"i" "j\\k" '' x#y`), ["a", "b c", "d e", "f g", 'h"i', "j\\k", "", "x#y"]);
  assert.deepEqual(shlexSplit("  "), []);
});

test("pyNormpath and fnmatch basics", () => {
  assert.equal(pyNormpath("//usr/bin/../x"), "//usr/x");
  assert.equal(pyNormpath("///a//b/"), "/a/b");
  assert.equal(pyNormpath("/.."), "/");
  assert.equal(pyNormpath("a/../../b"), "../b");
  assert.equal(pyNormpath(""), ".");
  assert.ok(fnmatchRegExp("[]a]").test("]"));
  assert.ok(fnmatchRegExp("[a-c]x").test("bx"));
  assert.ok(!fnmatchRegExp("[c-a]").test("b")); // reversed range matches nothing
  assert.ok(fnmatchRegExp("a[").test("a["));
  assert.ok(fnmatchRegExp("*.sh").test(".x.sh")); // hidden-file rule is glob's, not fnmatch's
  assert.ok(fnmatchRegExp("x(y)+").test("x(y)+"));
});

// Differential checks against CPython's shlex, posixpath and glob when it is installed.
const python = spawnSync("python3", ["-c", "print(1)"]).status === 0;

function pythonMap(code: string, inputs: string[]): unknown[] {
  const out = spawnSync("python3", ["-c", `import json,sys,shlex,posixpath,glob\nfor s in json.load(sys.stdin):\n${code}`], {
    input: JSON.stringify(inputs),
    encoding: "utf8",
  });
  assert.equal(out.status, 0, out.stderr);
  return out.stdout
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as unknown);
}

test("shlexSplit and pyNormpath agree with Python", { skip: !python && "python3 not installed" }, () => {
  const unit = fc.constantFrom("a", "b", " ", "\t", "'", '"', "\\", "/", ".", "#", "$");
  const samples = fc.sample(fc.string({ unit, maxLength: 10 }), 400);
  const shlex = pythonMap("    try: print(json.dumps(shlex.split(s)))\n    except ValueError as e: print(json.dumps(str(e)))", samples);
  const norm = pythonMap("    print(json.dumps(posixpath.normpath(s)))", samples);
  samples.forEach((s, i) => {
    let mine: unknown;
    try {
      mine = shlexSplit(s);
    } catch (e) {
      mine = (e as Error).message;
    }
    assert.deepEqual(mine, shlex[i], JSON.stringify(s));
    assert.equal(pyNormpath(s), norm[i], JSON.stringify(s));
  });
});

test("pyGlob agrees with Python's glob.glob", { skip: !python && "python3 not installed" }, () => {
  const component = fc.constantFrom("usr", "bin", "u*", "*", "?d", "b?n", ".*", "[ut]*", "[!u]*", "tool-[a-b]", "id", "opt", "d*", "*ir", "[", "");
  const samples = fc.sample(fc.array(component, { minLength: 1, maxLength: 4 }), 300).map((parts) => root + "/" + parts.join("/"));
  const expected = pythonMap("    print(json.dumps(sorted(glob.glob(s))))", samples);
  samples.forEach((s, i) => assert.deepEqual(pyGlob(s).sort(), expected[i], s));
});

test("every entry validation accepts renders to a line visudo accepts (property, printable ASCII arguments)", () => {
  const file = path.join(root, "sudoers-check");
  let checked = 0;
  fc.assert(
    fc.property(fc.array(fc.string({ unit: "grapheme-ascii", maxLength: 8 }), { maxLength: 4 }), (args) => {
      const cmd = ["/usr/bin/id", ...args].join(" ");
      const errors = new ValidationErrors();
      if (!validateSudoCommands(errors, A, [cmd], { root })) return;
      const rendered = renderSudoCommand(cmd);
      assert.ok(rendered !== null, `accepted but not renderable: ${JSON.stringify(cmd)}`);
      rmSync(file, { force: true }); // it is 0440: rewrite, do not reopen
      writeFileSync(file, `alice ALL=(ALL) ${rendered}\nalice ALL=(ALL) NOPASSWD: ${rendered}, /usr/bin/true\n`, { mode: 0o440 });
      const r = spawnSync("visudo", ["-cf", file], { encoding: "utf8" });
      assert.equal(r.status, 0, `${JSON.stringify(cmd)} → ${rendered}: ${r.stdout}${r.stderr}`);
      checked++;
    }),
    { numRuns: 200 },
  );
  assert.ok(checked > 100, `only ${checked} accepted samples`);
});
