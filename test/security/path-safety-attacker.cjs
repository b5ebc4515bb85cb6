// The attacker of test/security/path-safety.test.ts: a real process running as the victim user's
// uid (spawned with `uid`/`gid`), swapping names inside the homes it owns in a tight loop while
// the administrator edits, moves and deletes that user. Every swap aims at a canary outside the
// storage roots: `.ssh` and directories become symlinks to the canary directory, files become
// symlinks to the canary file or FIFOs. Swaps are atomic exchanges (renameat2 RENAME_EXCHANGE
// through Gatehouse's own addon) or rename + symlink, so a name is a real entry one moment and
// a link the next.
//
// argv[2]: JSON { addon, homes: string[], canaryFile, canaryDir, stopFile, seconds }
// Prints one JSON line with counts when it stops (stop file present or time up).

"use strict";
const fs = require("node:fs");
const { spawnSync } = require("node:child_process");

const cfg = JSON.parse(process.argv[2]);
const a = require(cfg.addon);
const DIR = a.O_RDONLY | a.O_DIRECTORY | a.O_NONBLOCK;
const counts = { iterations: 0, exchanges: 0, renames: 0, fifos: 0, errors: 0 };

// Deterministic per run (seeded), so a failure can be replayed with the same seed.
let seed = cfg.seed >>> 0 || 1;
function rnd(n) {
  seed ^= seed << 13;
  seed >>>= 0;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  seed >>>= 0;
  return seed % n;
}

function tryDo(fn) {
  try {
    fn();
    return true;
  } catch {
    counts.errors++;
    return false;
  }
}

/** Make sure `name` exists in `dirfd` as a symlink to `target`. */
function ensureLink(dirfd, name, target) {
  try {
    a.lstatat(dirfd, name);
  } catch {
    tryDo(() => a.symlinkat(target, dirfd, name));
  }
}

let lastFifo = 0;
/** Make sure `name` exists in `dirPath` as a FIFO (mkfifo is a separate process: rarely). */
function ensureFifo(dirfd, dirPath, name) {
  try {
    a.lstatat(dirfd, name);
    return;
  } catch {
    // missing
  }
  const now = Date.now();
  if (now - lastFifo < 100) return;
  lastFifo = now;
  spawnSync("mkfifo", [`${dirPath}/${name}`]);
  counts.fifos++;
}

function exchange(dirfd, x, y) {
  if (tryDo(() => a.renameat(dirfd, x, dirfd, y, a.RENAME_EXCHANGE))) counts.exchanges++;
}

/** rename + symlink: move the real entry aside, put a link in its place (or put it back). */
function renameSwap(dirfd, name, target) {
  const aside = `${name}.aside`;
  let asideExists = true;
  try {
    a.lstatat(dirfd, aside);
  } catch {
    asideExists = false;
  }
  if (!asideExists) {
    if (tryDo(() => a.renameat(dirfd, name, dirfd, aside, 0))) {
      tryDo(() => a.symlinkat(target, dirfd, name));
      counts.renames++;
    }
  } else {
    tryDo(() => a.unlinkat(dirfd, name, false));
    if (tryDo(() => a.renameat(dirfd, aside, dirfd, name, 0))) counts.renames++;
  }
}

function attackHome(home) {
  let h;
  try {
    h = fs.openSync(home, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
  } catch {
    return; // not there (yet): the move has not made it
  }
  try {
    ensureLink(h, ".ssh.lnk", cfg.canaryDir);
    ensureLink(h, "notes.lnk", cfg.canaryFile);
    ensureLink(h, "sub.lnk", cfg.canaryDir);
    ensureFifo(h, home, "notes.fifo");
    switch (rnd(7)) {
      case 0:
        exchange(h, ".ssh", ".ssh.lnk");
        break;
      case 1:
        exchange(h, "notes.txt", rnd(2) ? "notes.lnk" : "notes.fifo");
        break;
      case 2:
        exchange(h, "sub", "sub.lnk");
        break;
      case 3:
        renameSwap(h, rnd(2) ? "notes.txt" : "sub", rnd(2) ? cfg.canaryFile : cfg.canaryDir);
        break;
      case 4:
        renameSwap(h, ".ssh", cfg.canaryDir);
        break;
      default: {
        // inside .ssh (only when it is a real directory right now)
        let s;
        try {
          s = a.openBeneath(h, ".ssh", DIR, 0);
        } catch {
          break;
        }
        try {
          ensureLink(s, "ak.lnk", cfg.canaryFile);
          ensureFifo(s, `${home}/.ssh`, "ak.fifo");
          if (rnd(3) === 0) renameSwap(s, "authorized_keys", cfg.canaryFile);
          else exchange(s, "authorized_keys", rnd(2) ? "ak.lnk" : "ak.fifo");
        } finally {
          fs.closeSync(s);
        }
      }
    }
  } finally {
    fs.closeSync(h);
  }
}

const deadline = Date.now() + cfg.seconds * 1000;
const pause = new Int32Array(new SharedArrayBuffer(4));
for (;;) {
  for (let i = 0; i < 5; i++) {
    attackHome(cfg.homes[rnd(cfg.homes.length)]);
    counts.iterations++;
  }
  if (fs.existsSync(cfg.stopFile) || Date.now() > deadline) break;
  Atomics.wait(pause, 0, 0, 1); // leave the 2 shared cores some air
}
process.stdout.write(JSON.stringify({ ...counts, uid: process.getuid() }) + "\n");
