/*
 * gatehouse_fsat — the directory-fd-relative file calls Node lacks, for root's work inside
 * storage roots (docs/security/path-safety.md).
 *
 * A home belongs to its user, who can replace any name in it with a symlink, a FIFO or another
 * directory at any moment. Root therefore never resolves a path below a trusted base by name:
 * it holds an fd of the base and resolves each path relative to it without following any
 * symlink — openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS) where the
 * kernel has it, otherwise one openat(O_NOFOLLOW | O_DIRECTORY) per component. Every other call
 * here works on one name in an already opened directory and never follows a final symlink.
 *
 * All calls are synchronous metadata operations (no data I/O: reads and writes of opened fds go
 * through Node's own fs on the thread pool). Errors are thrown as Error objects whose `code` is
 * the errno name ("ELOOP", "EEXIST", ...) like Node's own fs errors.
 *
 * Plain C with node_api.h only.
 */
#define _GNU_SOURCE
#include <node_api.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_openat2
#define SYS_openat2 437
#endif

/* 1: try openat2 first; 0: the kernel said ENOSYS (or a test forced the fallback). */
static int use_openat2 = 1;

/* ---- errors and arguments ------------------------------------------------------------------ */

static napi_value throw_errno(napi_env env, int err, const char *call) {
  char msg[160];
  const char *name = strerrorname_np(err);
  napi_value code, text, error;
  snprintf(msg, sizeof msg, "%s: %s, %s", name ? name : "EIO", strerror(err), call);
  napi_create_string_utf8(env, name ? name : "EIO", NAPI_AUTO_LENGTH, &code);
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &text);
  napi_create_error(env, code, text, &error);
  napi_value errno_value;
  napi_create_int32(env, -err, &errno_value);
  napi_set_named_property(env, error, "errno", errno_value);
  napi_set_named_property(env, error, "code", code);
  napi_throw(env, error);
  return NULL;
}

static napi_value throw_type(napi_env env, const char *msg) {
  napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", msg);
  return NULL;
}

static int get_int(napi_env env, napi_value v, int *out) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_number) return -1;
  return napi_get_value_int32(env, v, out) == napi_ok ? 0 : -1;
}

static int get_double(napi_env env, napi_value v, double *out) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_number) return -1;
  return napi_get_value_double(env, v, out) == napi_ok ? 0 : -1;
}

/* A path argument into buf (PATH_MAX); strings with NUL are refused (they would be cut short). */
static int get_path(napi_env env, napi_value v, char *buf) {
  napi_valuetype t;
  size_t len = 0;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_string) return -1;
  if (napi_get_value_string_utf8(env, v, buf, PATH_MAX, &len) != napi_ok) return -1;
  if (len >= PATH_MAX - 1 || strlen(buf) != len) return -1;
  return 0;
}

#define ARGS(n)                                                           \
  size_t argc = (n);                                                      \
  napi_value argv[(n) > 0 ? (n) : 1];                                     \
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL; \
  if (argc < (n)) return throw_type(env, "missing arguments")

static napi_value make_int(napi_env env, int v) {
  napi_value r;
  napi_create_int32(env, v, &r);
  return r;
}

static napi_value undefined(napi_env env) {
  napi_value r;
  napi_get_undefined(env, &r);
  return r;
}

/* ---- resolution ---------------------------------------------------------------------------- */

/* Fallback walk: every component but the last opened O_PATH|O_DIRECTORY|O_NOFOLLOW, the last one
 * with the caller's flags plus O_NOFOLLOW. "." components are skipped; ".." is refused (EXDEV,
 * as RESOLVE_BENEATH answers for an escape). */
static int walk_open(int dirfd, const char *rel, int flags, mode_t mode) {
  char buf[PATH_MAX];
  char *parts[PATH_MAX / 2];
  int n = 0, cur = dirfd, fd;
  strcpy(buf, rel);
  for (char *save = NULL, *p = strtok_r(buf, "/", &save); p != NULL; p = strtok_r(NULL, "/", &save)) {
    if (strcmp(p, ".") == 0) continue;
    if (strcmp(p, "..") == 0) {
      errno = EXDEV;
      return -1;
    }
    parts[n++] = p;
  }
  if (n == 0) return openat(dirfd, ".", flags | O_CLOEXEC, mode);
  for (int i = 0; i < n; i++) {
    int last = i == n - 1;
    fd = last ? openat(cur, parts[i], flags | O_NOFOLLOW | O_CLOEXEC, mode)
              : openat(cur, parts[i], O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    int saved = errno;
    if (fd < 0 && !last && saved == ENOTDIR) {
      /* O_DIRECTORY|O_NOFOLLOW answers ENOTDIR for a symlink; say ELOOP, as openat2 does. */
      struct stat st;
      if (fstatat(cur, parts[i], &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode)) saved = ELOOP;
    }
    if (cur != dirfd) close(cur);
    if (fd < 0) {
      errno = saved;
      return -1;
    }
    cur = fd;
  }
  return cur;
}

static int open_beneath(int dirfd, const char *rel, int flags, mode_t mode) {
  if (use_openat2) {
    struct open_how how;
    memset(&how, 0, sizeof how);
    how.flags = (unsigned long long)(flags | O_NOFOLLOW | O_CLOEXEC);
    /* openat2 refuses a mode without O_CREAT/O_TMPFILE. */
    how.mode = (flags & (O_CREAT | __O_TMPFILE)) ? mode : 0;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
    const char *p = rel[0] ? rel : ".";
    long fd = syscall(SYS_openat2, dirfd, p, &how, sizeof how);
    if (fd >= 0) return (int)fd;
    /* ENOSYS: old kernel; EPERM: a seccomp filter that does not know the call. */
    if (errno != ENOSYS && errno != EPERM) return -1;
    if (errno == EPERM) {
      /* EPERM is also a genuine answer (e.g. O_NOATIME on another's file): probe once. */
      struct open_how probe;
      memset(&probe, 0, sizeof probe);
      probe.flags = O_PATH | O_CLOEXEC;
      long t = syscall(SYS_openat2, AT_FDCWD, "/", &probe, sizeof probe);
      if (t >= 0) {
        close((int)t);
        errno = EPERM;
        return -1;
      }
    }
    use_openat2 = 0;
  }
  return walk_open(dirfd, rel, flags, mode);
}

/* O_DIRECTORY|O_NOFOLLOW on a trailing symlink answers ENOTDIR; say ELOOP when the name is a link
 * (the link itself opened with O_PATH|O_NOFOLLOW, never followed), so callers can tell a swapped
 * link from a file. */
static int open_beneath_dir_aware(int dirfd, const char *rel, int flags, mode_t mode) {
  int fd = open_beneath(dirfd, rel, flags, mode);
  if (fd >= 0 || errno != ENOTDIR || !(flags & O_DIRECTORY)) return fd;
  int probe = open_beneath(dirfd, rel, O_PATH, 0);
  if (probe >= 0) {
    struct stat st;
    int link = fstat(probe, &st) == 0 && S_ISLNK(st.st_mode);
    close(probe);
    errno = link ? ELOOP : ENOTDIR;
  } else {
    errno = errno == ELOOP ? ELOOP : ENOTDIR;
  }
  return -1;
}

/* openBeneath(dirfd, rel, flags, mode) -> fd. O_NOFOLLOW and O_CLOEXEC are always added. */
static napi_value js_open_beneath(napi_env env, napi_callback_info info) {
  ARGS(4);
  int dirfd, flags, mode;
  char rel[PATH_MAX];
  if (get_int(env, argv[0], &dirfd) || get_path(env, argv[1], rel) || get_int(env, argv[2], &flags) || get_int(env, argv[3], &mode))
    return throw_type(env, "openBeneath(dirfd: number, rel: string, flags: number, mode: number)");
  if (rel[0] == '/') return throw_errno(env, EXDEV, "openBeneath");
  int fd = open_beneath_dir_aware(dirfd, rel, flags, (mode_t)mode);
  if (fd < 0) return throw_errno(env, errno, "openBeneath");
  return make_int(env, fd);
}

/* ---- one name in an open directory ----------------------------------------------------------- */

/* Parse (dirfd, name) — a single component, never "", ".", ".." or containing "/". */
static int get_at(napi_env env, napi_value *argv, int *dirfd, char *name) {
  if (get_int(env, argv[0], dirfd) || get_path(env, argv[1], name)) return -1;
  if (name[0] == '\0' || strchr(name, '/') != NULL || strcmp(name, ".") == 0 || strcmp(name, "..") == 0) return -1;
  return 0;
}

#define AT_ARGS(n, sig)                                                   \
  ARGS(n);                                                                \
  int dirfd;                                                              \
  char name[PATH_MAX];                                                    \
  if (get_at(env, argv, &dirfd, name) != 0) return throw_type(env, sig)

static napi_value js_mkdirat(napi_env env, napi_callback_info info) {
  AT_ARGS(3, "mkdirat(dirfd, name, mode)");
  int mode;
  if (get_int(env, argv[2], &mode)) return throw_type(env, "mkdirat(dirfd, name, mode)");
  if (mkdirat(dirfd, name, (mode_t)mode) != 0) return throw_errno(env, errno, "mkdirat");
  return undefined(env);
}

/* unlinkat(dirfd, name, removeDir: boolean) */
static napi_value js_unlinkat(napi_env env, napi_callback_info info) {
  AT_ARGS(3, "unlinkat(dirfd, name, removeDir)");
  bool dir = false;
  napi_get_value_bool(env, argv[2], &dir);
  if (unlinkat(dirfd, name, dir ? AT_REMOVEDIR : 0) != 0) return throw_errno(env, errno, "unlinkat");
  return undefined(env);
}

/* renameat(olddirfd, oldname, newdirfd, newname, flags) — renameat2: flags 0, RENAME_NOREPLACE or
 * RENAME_EXCHANGE. */
static napi_value js_renameat(napi_env env, napi_callback_info info) {
  ARGS(5);
  int odir, ndir, flags;
  char oname[PATH_MAX], nname[PATH_MAX];
  if (get_at(env, argv, &odir, oname) || get_at(env, argv + 2, &ndir, nname) || get_int(env, argv[4], &flags))
    return throw_type(env, "renameat(olddirfd, oldname, newdirfd, newname, flags)");
  if (syscall(SYS_renameat2, odir, oname, ndir, nname, (unsigned)flags) != 0) return throw_errno(env, errno, "renameat2");
  return undefined(env);
}

/* symlinkat(target, dirfd, name) */
static napi_value js_symlinkat(napi_env env, napi_callback_info info) {
  ARGS(3);
  char target[PATH_MAX];
  int dirfd;
  char name[PATH_MAX];
  if (get_path(env, argv[0], target) || get_at(env, argv + 1, &dirfd, name)) return throw_type(env, "symlinkat(target, dirfd, name)");
  if (symlinkat(target, dirfd, name) != 0) return throw_errno(env, errno, "symlinkat");
  return undefined(env);
}

static napi_value js_readlinkat(napi_env env, napi_callback_info info) {
  AT_ARGS(2, "readlinkat(dirfd, name)");
  char buf[PATH_MAX];
  ssize_t n = readlinkat(dirfd, name, buf, sizeof buf - 1);
  if (n < 0) return throw_errno(env, errno, "readlinkat");
  napi_value r;
  napi_create_string_utf8(env, buf, (size_t)n, &r);
  return r;
}

/* The stat fields Gatehouse uses, as one array of numbers:
 * [dev, ino, mode, nlink, uid, gid, size, blocks, atime_s, atime_ns, mtime_s, mtime_ns, ctime_s, ctime_ns] */
static napi_value stat_array(napi_env env, const struct stat *st) {
  double v[14] = {(double)st->st_dev, (double)st->st_ino, st->st_mode, (double)st->st_nlink, st->st_uid, st->st_gid,
                  (double)st->st_size, (double)st->st_blocks, (double)st->st_atim.tv_sec, (double)st->st_atim.tv_nsec,
                  (double)st->st_mtim.tv_sec, (double)st->st_mtim.tv_nsec, (double)st->st_ctim.tv_sec, (double)st->st_ctim.tv_nsec};
  napi_value arr, x;
  napi_create_array_with_length(env, 14, &arr);
  for (uint32_t i = 0; i < 14; i++) {
    napi_create_double(env, v[i], &x);
    napi_set_element(env, arr, i, x);
  }
  return arr;
}

/* lstatat(dirfd, name) — fstatat with AT_SYMLINK_NOFOLLOW. */
static napi_value js_lstatat(napi_env env, napi_callback_info info) {
  AT_ARGS(2, "lstatat(dirfd, name)");
  struct stat st;
  if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) return throw_errno(env, errno, "fstatat");
  return stat_array(env, &st);
}

/* fstat(fd) — also for O_PATH descriptors, which Node's fstat handles too, but in one format. */
static napi_value js_fstat(napi_env env, napi_callback_info info) {
  ARGS(1);
  int fd;
  if (get_int(env, argv[0], &fd)) return throw_type(env, "fstat(fd)");
  struct stat st;
  if (fstat(fd, &st) != 0) return throw_errno(env, errno, "fstat");
  return stat_array(env, &st);
}

/* lchownat(dirfd, name, uid, gid) — fchownat with AT_SYMLINK_NOFOLLOW (a link itself changes). */
static napi_value js_lchownat(napi_env env, napi_callback_info info) {
  AT_ARGS(4, "lchownat(dirfd, name, uid, gid)");
  int uid, gid;
  if (get_int(env, argv[2], &uid) || get_int(env, argv[3], &gid)) return throw_type(env, "lchownat(dirfd, name, uid, gid)");
  if (fchownat(dirfd, name, (uid_t)uid, (gid_t)gid, AT_SYMLINK_NOFOLLOW) != 0) return throw_errno(env, errno, "fchownat");
  return undefined(env);
}

/* lutimesat(dirfd, name, atime_s, atime_ns, mtime_s, mtime_ns) — utimensat, AT_SYMLINK_NOFOLLOW. */
static napi_value js_lutimesat(napi_env env, napi_callback_info info) {
  AT_ARGS(6, "lutimesat(dirfd, name, as, ans, ms, mns)");
  double t[4];
  for (int i = 0; i < 4; i++)
    if (get_double(env, argv[2 + i], &t[i])) return throw_type(env, "lutimesat(dirfd, name, as, ans, ms, mns)");
  struct timespec ts[2] = {{(time_t)t[0], (long)t[1]}, {(time_t)t[2], (long)t[3]}};
  if (utimensat(dirfd, name, ts, AT_SYMLINK_NOFOLLOW) != 0) return throw_errno(env, errno, "utimensat");
  return undefined(env);
}

/* readdirfd(dirfd) -> string[] of the directory's names (without "." and ".."). The fd is
 * duplicated for fdopendir, so the caller's fd stays open and usable. */
static napi_value js_readdirfd(napi_env env, napi_callback_info info) {
  ARGS(1);
  int dirfd;
  if (get_int(env, argv[0], &dirfd)) return throw_type(env, "readdirfd(dirfd)");
  int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return throw_errno(env, errno, "openat(.)");
  DIR *d = fdopendir(fd);
  if (d == NULL) {
    int saved = errno;
    close(fd);
    return throw_errno(env, saved, "fdopendir");
  }
  napi_value arr, s;
  napi_create_array(env, &arr);
  uint32_t i = 0;
  struct dirent *e;
  errno = 0;
  while ((e = readdir(d)) != NULL) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
    napi_create_string_utf8(env, e->d_name, NAPI_AUTO_LENGTH, &s);
    napi_set_element(env, arr, i++, s);
  }
  int saved = errno;
  closedir(d);
  if (saved != 0) return throw_errno(env, saved, "readdir");
  return arr;
}

/* resolver() -> "openat2" | "openat": which resolution the next call will use. */
static napi_value js_resolver(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value r;
  napi_create_string_utf8(env, use_openat2 ? "openat2" : "openat", NAPI_AUTO_LENGTH, &r);
  return r;
}

/* forceFallback(on) — tests only: exercise the per-component openat walk. */
static napi_value js_force_fallback(napi_env env, napi_callback_info info) {
  ARGS(1);
  bool on = false;
  napi_get_value_bool(env, argv[0], &on);
  use_openat2 = !on;
  return undefined(env);
}

/* ---- module ---------------------------------------------------------------------------------- */

static int set_fn(napi_env env, napi_value exports, const char *name, napi_callback cb) {
  napi_value fn;
  return napi_create_function(env, name, NAPI_AUTO_LENGTH, cb, NULL, &fn) == napi_ok &&
                 napi_set_named_property(env, exports, name, fn) == napi_ok
             ? 0
             : -1;
}

static int set_const(napi_env env, napi_value exports, const char *name, int value) {
  return napi_set_named_property(env, exports, name, make_int(env, value)) == napi_ok ? 0 : -1;
}

NAPI_MODULE_INIT(/* napi_env env, napi_value exports */) {
  if (set_fn(env, exports, "openBeneath", js_open_beneath) || set_fn(env, exports, "mkdirat", js_mkdirat) ||
      set_fn(env, exports, "unlinkat", js_unlinkat) || set_fn(env, exports, "renameat", js_renameat) ||
      set_fn(env, exports, "symlinkat", js_symlinkat) || set_fn(env, exports, "readlinkat", js_readlinkat) ||
      set_fn(env, exports, "lstatat", js_lstatat) || set_fn(env, exports, "fstat", js_fstat) ||
      set_fn(env, exports, "lchownat", js_lchownat) || set_fn(env, exports, "lutimesat", js_lutimesat) ||
      set_fn(env, exports, "readdirfd", js_readdirfd) || set_fn(env, exports, "resolver", js_resolver) ||
      set_fn(env, exports, "forceFallback", js_force_fallback))
    return NULL;
  if (set_const(env, exports, "O_PATH", O_PATH) || set_const(env, exports, "O_DIRECTORY", O_DIRECTORY) ||
      set_const(env, exports, "O_NOFOLLOW", O_NOFOLLOW) || set_const(env, exports, "O_NONBLOCK", O_NONBLOCK) ||
      set_const(env, exports, "O_RDONLY", O_RDONLY) || set_const(env, exports, "O_WRONLY", O_WRONLY) ||
      set_const(env, exports, "O_CREAT", O_CREAT) || set_const(env, exports, "O_EXCL", O_EXCL) ||
      set_const(env, exports, "O_NOCTTY", O_NOCTTY) || set_const(env, exports, "RENAME_NOREPLACE", RENAME_NOREPLACE) ||
      set_const(env, exports, "RENAME_EXCHANGE", RENAME_EXCHANGE))
    return NULL;
  return exports;
}
