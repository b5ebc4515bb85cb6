#!/usr/bin/env bash
# Runs THIS checkout's bench (bench/, scripts/bench) on the sources of another commit, in a
# throwaway git worktree, so a before/after comparison measures both with the same bench code:
#
#   bash bench/against.sh <commit> --json /tmp/before.json [other npm run bench args…]
#   npm run bench -- --json /tmp/after.json [the same args]
#   node --import tsx bench/compare.ts /tmp/before.json /tmp/after.json
#
# The worktree shares this checkout's node_modules and built crypt addon; scripts/bench builds the
# old sources (dist/, for the memory figure) and starts its own throwaway PostgreSQL. The worktree
# is removed on exit.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
commit=${1:?usage: bash bench/against.sh <commit> [npm run bench args…]}
shift
git -C "$root" rev-parse --verify --quiet "$commit^{commit}" >/dev/null || { echo "not a commit: $commit" >&2; exit 2; }

# --json paths are taken relative to the caller's directory (the run happens in the worktree).
args=()
while (($#)); do
  case "$1" in
    --json) args+=(--json "$(realpath -m -- "${2:?--json needs a file}")"); shift 2 ;;
    --json=*) args+=("--json=$(realpath -m -- "${1#--json=}")"); shift ;;
    *) args+=("$1"); shift ;;
  esac
done

work=$(mktemp -d /tmp/gatehouse-bench-against.XXXXXX)
cleanup() {
  git -C "$root" worktree remove --force "$work/tree" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
git -C "$root" worktree add --detach "$work/tree" "$commit" >/dev/null
rm -rf "$work/tree/bench"
cp -r "$root/bench" "$work/tree/bench"
cp "$root/scripts/bench" "$work/tree/scripts/bench"
ln -s "$root/node_modules" "$work/tree/node_modules"
if [[ -d "$root/native/build/Release" ]]; then
  mkdir -p "$work/tree/native/build"
  cp -r "$root/native/build/Release" "$work/tree/native/build/"
fi
echo "bench of $(git -C "$root" rev-parse --short HEAD) on the sources of $(git -C "$root" rev-parse --short "$commit")" >&2
cd "$work/tree"
bash scripts/bench "${args[@]}"
