# Gatehouse's password-hashing addon: libxcrypt's crypt_rn() behind plain Node-API, run on the
# libuv thread pool. Built by `npm install` (package.json "install" script) or by hand with
#   npx node-gyp rebuild -C native
# Output: native/build/Release/gatehouse_crypt.node (loaded by src/auth/password-hash.ts).
{
  "targets": [
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
