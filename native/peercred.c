/*
 * gatehouse_peercred — the credentials of the process at the other end of a Unix socket.
 *
 * Exposes one function:
 *
 *     peerCred(fd: number): { pid: number, uid: number, gid: number }
 *
 * getsockopt(SO_PEERCRED) reports the credentials the peer had when it called connect(); the kernel
 * fills them in, so the peer cannot lie about them. Node has no API for it, and the on-host CLI
 * (`gatehouse call` over <data-dir>/gatehouse.sock) authenticates by them: root is the full
 * administrator, another local user gets that user's roles (src/server/unix-socket.ts).
 *
 * Plain C with node_api.h only, like the other addons in this directory.
 */
#define _GNU_SOURCE
#include <node_api.h>

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>

static napi_value make_int(napi_env env, double v) {
  napi_value out;
  napi_create_double(env, v, &out);
  return out;
}

static napi_value js_peer_cred(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1) {
    napi_throw_type_error(env, "EINVAL", "peerCred(fd) needs a file descriptor");
    return NULL;
  }
  int32_t fd;
  if (napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0) {
    napi_throw_type_error(env, "EINVAL", "peerCred(fd): fd must be a non-negative integer");
    return NULL;
  }
  struct ucred cred;
  socklen_t len = sizeof(cred);
  memset(&cred, 0, sizeof(cred));
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || len != sizeof(cred)) {
    int err = errno;
    napi_throw_error(env, err == EBADF ? "EBADF" : err == ENOTSOCK ? "ENOTSOCK" : "EPEERCRED", strerror(err));
    return NULL;
  }
  napi_value out;
  napi_create_object(env, &out);
  napi_set_named_property(env, out, "pid", make_int(env, cred.pid));
  napi_set_named_property(env, out, "uid", make_int(env, cred.uid));
  napi_set_named_property(env, out, "gid", make_int(env, cred.gid));
  return out;
}

NAPI_MODULE_INIT(/* napi_env env, napi_value exports */) {
  napi_value fn;
  if (napi_create_function(env, "peerCred", NAPI_AUTO_LENGTH, js_peer_cred, NULL, &fn) != napi_ok ||
      napi_set_named_property(env, exports, "peerCred", fn) != napi_ok)
    return NULL;
  return exports;
}
