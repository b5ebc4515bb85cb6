# Gatehouse's native addons: gatehouse_crypt (libxcrypt's crypt_rn() behind plain Node-API, run on
# the libuv thread pool), gatehouse_fsat (fd-relative file calls, see fsat.c) and gatehouse_peercred
# (SO_PEERCRED of a Unix-socket peer, see peercred.c).
# Built by `npm install` (package.json "install" script) or by hand with
#   npx node-gyp rebuild -C native
# Output: native/build/Release/gatehouse_crypt.node (loaded by src/auth/password-hash.ts) and
# gatehouse_fsat.node (loaded by src/accounts/safe-fs.ts) and gatehouse_peercred.node (loaded by
# src/server/unix-socket.ts).
{
  "targets": [
    {
      # SO_PEERCRED of a Unix-socket connection (Node has no API for it): the on-host CLI's login.
      # Optional: without it the server does not open its Unix socket and says why in its log.
      "target_name": "gatehouse_peercred",
      "sources": ["peercred.c"],
      "defines": ["NAPI_VERSION=8"],
      "cflags": ["-Wall", "-Wextra", "-O2"]
    },
    {
      # Directory-fd-relative file calls (openat2 / openat walk, mkdirat, renameat2, ...) for
      # root's work inside storage roots: native/build/Release/gatehouse_fsat.node, loaded by
      # src/accounts/safe-fs.ts. Mandatory for home operations (they refuse without it);
      # needs only libc and the kernel headers (linux/openat2.h).
      "target_name": "gatehouse_fsat",
      "sources": ["fsat.c"],
      "defines": ["NAPI_VERSION=8"],
      "cflags": ["-Wall", "-Wextra", "-O2"]
    },
    {
      "target_name": "gatehouse_crypt",
      "sources": ["crypt.c"],
      # NAPI_VERSION 8 is available on every Node >= 12.22; pinning it keeps the ABI stable
      # across Node upgrades (no rebuild needed when the node binary changes).
      "defines": ["NAPI_VERSION=8"],
      "cflags": ["-Wall", "-Wextra", "-O2"],
      "libraries": ["-lcrypt"]
    }
  ]
}
