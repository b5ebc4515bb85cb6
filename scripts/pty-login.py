#!/usr/bin/python3
"""Run a command on a pseudo-terminal and type a password at its prompt.

Usage: PTY_PASSWORD=<password> scripts/pty-login.py <command> [args...]

su, sudo and ssh read passwords from the terminal, not from stdin; this gives them one. The
password is answered once (PTY_ANSWERS to change); a further prompt ends the run with exit code
125 ("asked again", i.e. refused). Everything the command printed goes to stdout; the exit code
is the command's (124 on timeout after PTY_TIMEOUT seconds, default 20).
"""
import os
import pty
import re
import select
import signal
import sys
import time

PROMPT = re.compile(rb"(?i)(password|passphrase)[^\n]*:\s*$")


def main() -> int:
    args = sys.argv[1:]
    if not args:
        print(__doc__, file=sys.stderr)
        return 2
    password = os.environ.get("PTY_PASSWORD")
    answers = int(os.environ.get("PTY_ANSWERS", "1"))
    timeout = float(os.environ.get("PTY_TIMEOUT", "20"))
    pid, fd = pty.fork()
    if pid == 0:
        try:
            os.execvp(args[0], args)
        finally:
            os._exit(127)
    out = b""
    scan_from = 0
    answered = 0
    deadline = time.time() + timeout
    code = None
    while True:
        if time.time() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            code = 124
            break
        r, _, _ = select.select([fd], [], [], 0.1)
        if fd in r:
            try:
                data = os.read(fd, 4096)
            except OSError:
                data = b""
            if not data:
                break
            out += data
            tail = out[scan_from:]
            if PROMPT.search(tail[-300:]):
                if password is not None and answered < answers:
                    time.sleep(0.05)
                    os.write(fd, password.encode() + b"\n")
                    answered += 1
                    scan_from = len(out)
                else:
                    os.kill(pid, signal.SIGKILL)
                    os.waitpid(pid, 0)
                    code = 125
                    break
    if code is None:
        _, status = os.waitpid(pid, 0)
        code = os.waitstatus_to_exitcode(status)
        if code < 0:
            code = 128 - code
    sys.stdout.write(out.decode(errors="replace"))
    sys.stdout.flush()
    return code


if __name__ == "__main__":
    sys.exit(main())
