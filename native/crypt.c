/*
 * gatehouse_crypt — a minimal Node-API binding to libxcrypt's crypt_rn().
 *
 * Exposes one function:
 *
 *     crypt(password: string, setting: string): Promise<string>
 *
 * The hash is computed on the libuv thread pool (napi_create_async_work), so a 656000-round
 * SHA-512 crypt never blocks the event loop and several hashes run in parallel on several cores.
 * crypt_rn is the reentrant variant: each call gets its own struct crypt_data, so concurrent
 * calls on different pool threads do not share state.
 *
 * The setting string (prefix, rounds, salt) is built by the TypeScript side; this file does no
 * salt generation and no policy, only the call. "setting" may also be a complete stored hash,
 * which is how verification works (crypt(pw, stored) === stored).
 *
 * Plain C with node_api.h only: no node-addon-api, no C++ runtime.
 */
#include <node_api.h>

#include <crypt.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  char *phrase;             /* UTF-8 password, NUL-terminated, wiped after use */
  size_t phrase_len;
  char *setting;            /* UTF-8 setting, NUL-terminated */
  size_t setting_len;
  struct crypt_data *data;  /* ~32 KiB scratch + output buffer for crypt_rn */
  int ok;                   /* crypt_rn succeeded */
  int err;                  /* errno captured on the worker thread when it failed */
} crypt_job;

/* Throw a JS error and return NULL from the calling function (Node-API idiom). */
#define THROW_NULL(env, code, msg)             \
  do {                                         \
    napi_throw_type_error((env), (code), (msg)); \
    return NULL;                               \
  } while (0)

/* Release everything a job owns, wiping secrets first (the password and crypt_rn's scratch area,
 * which holds intermediate digests of it). explicit_bzero cannot be optimised away. */
static void job_free(napi_env env, crypt_job *job) {
  if (job == NULL) return;
  if (job->phrase != NULL) {
    explicit_bzero(job->phrase, job->phrase_len);
    free(job->phrase);
  }
  if (job->setting != NULL) free(job->setting);
  if (job->data != NULL) {
    explicit_bzero(job->data, sizeof(struct crypt_data));
    free(job->data);
  }
  if (job->work != NULL) napi_delete_async_work(env, job->work);
  free(job);
}

/* Copy a JS string argument into a fresh NUL-terminated UTF-8 buffer. Returns 0 on success, or
 * -1 with a JS exception pending. Strings containing U+0000 are rejected: crypt() works on C
 * strings and would silently hash only the part before the NUL. */
static int get_utf8(napi_env env, napi_value value, const char *what, char **out, size_t *out_len) {
  napi_valuetype type;
  size_t len = 0, copied = 0;
  char *buf;

  if (napi_typeof(env, value, &type) != napi_ok || type != napi_string) {
    char msg[64];
    snprintf(msg, sizeof msg, "%s must be a string", what);
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", msg);
    return -1;
  }
  if (napi_get_value_string_utf8(env, value, NULL, 0, &len) != napi_ok) {
    napi_throw_error(env, NULL, "cannot read string argument");
    return -1;
  }
  buf = malloc(len + 1);
  if (buf == NULL) {
    napi_throw_error(env, "ENOMEM", "out of memory");
    return -1;
  }
  if (napi_get_value_string_utf8(env, value, buf, len + 1, &copied) != napi_ok || copied != len) {
    explicit_bzero(buf, len + 1);
    free(buf);
    napi_throw_error(env, NULL, "cannot read string argument");
    return -1;
  }
  if (strlen(buf) != len) {
    char msg[64];
    explicit_bzero(buf, len + 1);
    free(buf);
    snprintf(msg, sizeof msg, "%s must not contain NUL characters", what);
    napi_throw_type_error(env, "ERR_INVALID_ARG_VALUE", msg);
    return -1;
  }
  *out = buf;
  *out_len = len;
  return 0;
}

/* Runs on a libuv pool thread: no JS, no napi_* calls allowed here. */
static void execute(napi_env env, void *arg) {
  crypt_job *job = arg;
  (void)env;
  errno = 0;
  /* crypt_rn returns NULL on failure (never a "*0" failure token, unlike crypt/crypt_r),
   * e.g. EINVAL for a malformed setting or ERANGE for a passphrase >= 512 bytes. */
  job->ok = crypt_rn(job->phrase, job->setting, job->data, (int)sizeof(struct crypt_data)) != NULL;
  job->err = job->ok ? 0 : (errno != 0 ? errno : EINVAL);
}

/* Back on the JS thread: settle the promise and free the job. */
static void complete(napi_env env, napi_status status, void *arg) {
  crypt_job *job = arg;
  napi_value value;

  if (status == napi_ok && job->ok) {
    if (napi_create_string_utf8(env, job->data->output, NAPI_AUTO_LENGTH, &value) == napi_ok) {
      napi_resolve_deferred(env, job->deferred, value);
    } else {
      napi_value msg;
      napi_create_string_utf8(env, "cannot create result string", NAPI_AUTO_LENGTH, &msg);
      napi_create_error(env, NULL, msg, &value);
      napi_reject_deferred(env, job->deferred, value);
    }
  } else {
    napi_value msg, code;
    const char *text = status == napi_cancelled ? "crypt cancelled" : strerror(job->err);
    const char *errname = job->err == ERANGE   ? "ERANGE"
                          : job->err == ENOMEM ? "ENOMEM"
                          : job->err == ENOSYS ? "ENOSYS"
                                               : "EINVAL";
    napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &msg);
    napi_create_string_utf8(env, errname, NAPI_AUTO_LENGTH, &code);
    napi_create_error(env, code, msg, &value);
    napi_reject_deferred(env, job->deferred, value);
  }
  job_free(env, job);
}

/* crypt(password, setting) -> Promise<string> */
static napi_value js_crypt(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], promise, resource_name;
  crypt_job *job;

  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc < 2) THROW_NULL(env, "ERR_MISSING_ARGS", "crypt(password, setting) needs 2 arguments");

  job = calloc(1, sizeof *job);
  if (job == NULL) THROW_NULL(env, "ENOMEM", "out of memory");

  if (get_utf8(env, argv[0], "password", &job->phrase, &job->phrase_len) != 0 ||
      get_utf8(env, argv[1], "setting", &job->setting, &job->setting_len) != 0) {
    job_free(env, job);
    return NULL;
  }
  /* crypt_rn requires the whole struct zeroed before first use. */
  job->data = calloc(1, sizeof(struct crypt_data));
  if (job->data == NULL) {
    job_free(env, job);
    THROW_NULL(env, "ENOMEM", "out of memory");
  }

  if (napi_create_promise(env, &job->deferred, &promise) != napi_ok ||
      napi_create_string_utf8(env, "gatehouse_crypt", NAPI_AUTO_LENGTH, &resource_name) != napi_ok ||
      napi_create_async_work(env, NULL, resource_name, execute, complete, job, &job->work) != napi_ok ||
      napi_queue_async_work(env, job->work) != napi_ok) {
    /* If the promise was already created it is simply never settled and gets collected;
     * the pending exception (if any) reaches the caller. */
    job_free(env, job);
    napi_throw_error(env, NULL, "cannot queue crypt work");
    return NULL;
  }
  return promise;
}

NAPI_MODULE_INIT(/* napi_env env, napi_value exports */) {
  napi_value fn;
  if (napi_create_function(env, "crypt", NAPI_AUTO_LENGTH, js_crypt, NULL, &fn) != napi_ok ||
      napi_set_named_property(env, exports, "crypt", fn) != napi_ok) {
    return NULL;
  }
  return exports;
}
