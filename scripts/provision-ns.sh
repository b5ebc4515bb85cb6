#!/bin/bash
# Usage: scripts/provision-ns.sh <host-root> <command> [args...]   (root)
#
# Runs <command> in a private mount namespace in which the account files Gatehouse generated
# under <host-root> are bind-mounted over the host's: /etc/passwd, /etc/group, /etc/shadow,
# /etc/gshadow and the /etc/sudoers.d directory. The mounts die with the namespace; the host's
# own files are never touched. Used by the provisioning tests to ask the host's own tools
# (getent, id, su, sudo, sshd, visudo) about the generated files.
set -euo pipefail
if [ $# -lt 2 ]; then
  echo "usage: $0 <host-root> <command> [args...]" >&2
  exit 2
fi
root=$(cd "$1" && pwd)
shift
for f in passwd group shadow gshadow; do
  [ -f "$root/etc/$f" ] || { echo "$0: $root/etc/$f is missing" >&2; exit 2; }
done
[ -d "$root/etc/sudoers.d" ] || { echo "$0: $root/etc/sudoers.d is missing" >&2; exit 2; }
exec unshare --mount --propagation private -- bash -c '
  set -e
  r=$1
  shift
  for f in passwd group shadow gshadow; do mount --bind "$r/etc/$f" "/etc/$f"; done
  mount --bind "$r/etc/sudoers.d" /etc/sudoers.d
  exec "$@"
' provision-ns "$root" "$@"
