/* SPDX-License-Identifier: MIT */
/*
 * cppgunicorn application ABI, version 1.
 *
 * This header is the whole contract between the cppgunicorn server (the host) and an
 * application plugin (the app, a shared object loaded with dlopen). It is plain C so that
 * any language with a C FFI can implement an app; the C++ SDK (sdk.hpp) is a thin layer on
 * top of it.
 *
 * The model is WSGI's, expressed in C:
 *   - the app exports one symbol, cppg_app_on_load(), returning its descriptor;
 *   - the host calls descriptor->init once per worker process, then descriptor->handle once
 *     per request (from up to `threads` threads at once), then descriptor->shutdown;
 *   - inside handle, the app reads the request through the host table (an environ-like view,
 *     the headers, and an incremental body stream) and answers with start_response + write.
 *
 * Rules that hold everywhere:
 *   - Functions return 0 (or a count) on success and a negative CPPG_E* code on failure,
 *     as libuv does; cppg_host_t.strerror turns a code into text.
 *   - No function of the host table may be called with a request handle after the handle
 *     callback for that request has returned (post_request may still read it).
 *   - Strings passed by the host are not NUL-terminated unless stated; they are (ptr, len).
 *   - No C++ exception may cross this boundary. The SDK catches them for you.
 */
#ifndef CPPGUNICORN_APP_H
#define CPPGUNICORN_APP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** The ABI version this header describes. An app returns it in its descriptor; the host
 *  refuses to load an app built against any other version. */
#define CPPG_ABI_VERSION 1

/** Error codes (negative values are returned). */
#define CPPG_OK 0
#define CPPG_EINVAL (-22)     /**< An argument is invalid (bad status line, CR/LF in a header). */
#define CPPG_ESTATE (-71)     /**< Call out of order (write before start_response, twice started). */
#define CPPG_ECLOSED (-104)   /**< The client went away; further output is discarded. */
#define CPPG_EBODY (-74)      /**< The request body was malformed or broke off mid-stream. */
#define CPPG_ETOOLARGE (-27)  /**< The request body exceeds limit_request_body. */
#define CPPG_ETIMEDOUT (-110) /**< The client stopped sending the body (body_timeout). */
#define CPPG_EBUSY (-16)      /**< The shared executor's queue is full (executor_queue). */

/** Log levels for cppg_host_t.log, matching the server's --log-level names. */
typedef enum cppg_log_level {
    CPPG_LOG_DEBUG = 0,
    CPPG_LOG_INFO = 1,
    CPPG_LOG_WARNING = 2,
    CPPG_LOG_ERROR = 3,
    CPPG_LOG_CRITICAL = 4
} cppg_log_level_t;

/** A byte string that is not NUL-terminated.
 *  OWNERSHIP: whoever produced it; see each function for how long it stays valid. */
typedef struct cppg_str {
    const char *ptr; /**< First byte; may be NULL when len is 0. */
    size_t len;      /**< Number of bytes. */
} cppg_str_t;

/** One HTTP header: a name and a value, as bytes. */
typedef struct cppg_header {
    cppg_str_t name;  /**< Header name, case as sent. */
    cppg_str_t value; /**< Header value, without surrounding whitespace. */
} cppg_header_t;

/** Opaque handle of one request in flight. Valid only during the handle callback.
 *  OWNERSHIP: host_ptr; the app never frees it. */
typedef struct cppg_request cppg_request_t;

/**
 * The functions the host provides, passed to the app's init. The table lives for the whole
 * process; the app may keep the pointer. Every function is thread-safe for distinct request
 * handles; one request handle must be used by one thread at a time.
 */
typedef struct cppg_host {
    /** sizeof(cppg_host_t) as the host was built; new members are only ever appended, so an
     *  app checks struct_size before using a member added after version 1. */
    uint32_t struct_size;
    /** CPPG_ABI_VERSION of the host. */
    uint32_t abi_version;

    /**
     * Look up an environ-style variable of the request.
     * Keys: REQUEST_METHOD, SCRIPT_NAME (always empty in v1), PATH_INFO (percent-decoded path),
     * QUERY_STRING, RAW_URI (the request target as sent), SERVER_NAME, SERVER_PORT,
     * SERVER_PROTOCOL ("HTTP/1.1"), REMOTE_ADDR, REMOTE_PORT, URL_SCHEME ("http"),
     * REQUEST_ID (the client's X-Request-Id when it is 1-200 of [A-Za-z0-9._:-], else 16
     * random hex digits; servers older than send_file lack it), CONTENT_TYPE, CONTENT_LENGTH, and HTTP_<NAME> for any request header, where NAME is the
     * header name upper-cased with '-' turned into '_'. Repeated headers are joined with ", ".
     * Headers whose name contains '_' are never visible as HTTP_* (they would be ambiguous
     * with their '-' spelling); they remain visible through header_at.
     * @param req the request handle passed to handle.
     * @param key NUL-terminated variable name.
     * @param out receives the value.
     * @return 0 when found, CPPG_EINVAL when the variable is absent (out is then empty).
     * OWNERSHIP: out points into host memory, valid until handle returns.
     */
    int (*environ_get)(const cppg_request_t *req, const char *key, cppg_str_t *out);

    /**
     * Number of request headers, counting repeats.
     * @param req the request handle.
     * @return the count.
     */
    size_t (*header_count)(const cppg_request_t *req);

    /**
     * The index-th request header, in the order received, with the name's case as sent.
     * @param req the request handle.
     * @param index 0 .. header_count()-1.
     * @param out receives the header.
     * @return 0, or CPPG_EINVAL when index is out of range.
     * OWNERSHIP: out points into host memory, valid until handle returns.
     */
    int (*header_at)(const cppg_request_t *req, size_t index, cppg_header_t *out);

    /**
     * Read up to len bytes of the request body (de-chunked). Blocks until at least one byte,
     * the end of the body, or an error. The first read of a request that sent
     * "Expect: 100-continue" makes the host send "100 Continue".
     * @param req the request handle.
     * @param buf where to copy the bytes. OWNERSHIP: app_ptr; the host only writes into it.
     * @param len capacity of buf.
     * @return bytes read (> 0), 0 at the end of the body, or CPPG_EBODY, CPPG_ETOOLARGE,
     *         CPPG_ETIMEDOUT, CPPG_ECLOSED.
     */
    ptrdiff_t (*read)(cppg_request_t *req, void *buf, size_t len);

    /**
     * Begin the response. Must be called exactly once, before write.
     * If the headers contain Content-Length, the body is sent with that length and the app
     * must write exactly that many bytes; otherwise HTTP/1.1 responses are chunked and
     * HTTP/1.0 responses end by closing the connection. Transfer-Encoding and Connection
     * headers set by the app are dropped, except "Connection: close", which the host honours.
     * The host adds Date and Server.
     * @param req the request handle.
     * @param status NUL-terminated status line without the version, e.g. "200 OK": three
     *        digits (200-599), then optionally a space and a reason phrase.
     * @param headers array of n headers. Names must be HTTP tokens; names and values must not
     *        contain CR, LF or NUL.
     * @param n number of headers.
     * @return 0, CPPG_ESTATE if already started, or CPPG_EINVAL for a bad status line or a bad
     *         header; after CPPG_EINVAL the host answers 500 when handle returns.
     * OWNERSHIP: status and headers stay app_ptr; the host copies what it needs before
     *            returning.
     */
    int (*start_response)(cppg_request_t *req, const char *status, const cppg_header_t *headers,
                          size_t n);

    /**
     * Write response body bytes. May block while the client is slow to read (back-pressure).
     * Ignored for HEAD requests and for statuses without a body (204, 304).
     * @param req the request handle.
     * @param data the bytes. OWNERSHIP: app_ptr; copied before returning.
     * @param len number of bytes.
     * @return 0, CPPG_ESTATE before start_response, CPPG_EINVAL when more bytes than the
     *         declared Content-Length are written, or CPPG_ECLOSED when the client went away.
     */
    int (*write)(cppg_request_t *req, const void *data, size_t len);

    /**
     * Write a line to the server's error log, with the server's format and pid.
     * @param level one of cppg_log_level_t.
     * @param msg the message bytes. OWNERSHIP: app_ptr; copied before returning.
     * @param len message length.
     */
    void (*log)(int level, const char *msg, size_t len);

    /**
     * Text for an error code.
     * @param err a CPPG_E* code.
     * @return a NUL-terminated static string. OWNERSHIP: host_ptr, never freed.
     */
    const char *(*strerror)(int err);

    /* ---- Appended after version 1.0: check struct_size before use. ---- */

    /**
     * Whether the app was loaded in the master before the workers were forked (--preload).
     * Meant for init: with preload, init runs once in the master, and anything that must not
     * be shared between processes (threads, connections, random seeds) belongs in the
     * worker_start hook instead.
     * @return 1 when preloaded, 0 when init runs in the worker itself.
     */
    int (*preloaded)(void);

    /**
     * Run fn(arg) on the worker's shared executor (--executor-threads, one pool for all
     * requests of the worker). Tasks beyond the threads wait in a queue of at most
     * --executor-queue; beyond that the call fails at once instead of blocking. The task
     * runs on another thread: it must not use a request handle unless the handler waits
     * for it. Callable from any app thread or task.
     * @param fn the task. @param arg its argument. OWNERSHIP: app_ptr; the task owns arg.
     * @return 0, or CPPG_EBUSY when the queue is full (fn is then not run), or CPPG_ESTATE
     *         outside a worker.
     */
    int (*submit)(void (*fn)(void *arg), void *arg);

    /**
     * The request the calling thread is handling: the C equivalent of the SDK's
     * cppg::request(), so code deep in an app's call stack need not be passed the handle.
     * @return the handle during pre_request, handle and post_request on that thread; NULL
     *         on any other thread or outside a request (never another thread's request).
     * OWNERSHIP: host_ptr, valid as the handle passed to handle.
     */
    cppg_request_t *(*current_request)(void);

    /**
     * Send len bytes of the open file fd, from offset, as response body without copying them
     * through the app (the server uses sendfile). The same rules as write apply: only after
     * start_response, counted against a declared Content-Length (declare one: a chunked
     * response cannot carry a file this way), ignored for HEAD, and it may block while the
     * client is slow to read.
     * @param req the request handle. @param fd a readable regular file; not closed.
     * @param offset where to start in the file. @param len bytes to send.
     * @return 0, CPPG_ESTATE before start_response or without a Content-Length, CPPG_EINVAL
     *         when fd is not a regular file, the file is shorter than offset + len, or len
     *         goes past the Content-Length (nothing is sent then),
     *         or CPPG_ECLOSED when the client went away.
     * OWNERSHIP: fd stays the app's.
     */
    int (*send_file)(cppg_request_t *req, int fd, uint64_t offset, uint64_t len);

    /**
     * Say that this worker cannot serve, from the hooks that run before it does: init,
     * worker_start and thread_start (whose void return cannot say so). When the hook returns
     * the worker's boot fails: the reason is logged, no thread serves, thread_stop runs on the
     * threads whose thread_start succeeded, and the worker exits with code 3. The master
     * backs off before the next spawn; at start-up, before any worker has served, it stops
     * (gunicorn's boot error). The SDK calls this when a thread_start member throws.
     * @param reason NUL-terminated text for the log. OWNERSHIP: app_ptr; copied.
     * @return 0, or CPPG_ESTATE once the worker serves (it then goes on serving).
     */
    int (*fail_boot)(const char *reason);

    /**
     * Name a file the app is made of besides its own .so (a Python module, a template, a
     * data file): with --reload the master reloads (as on HUP) once it changes, as it does
     * for the app file. Callable from any hook; a file named twice is watched once.
     * @param path NUL-terminated; a relative path is taken from the working directory.
     *        OWNERSHIP: app_ptr; copied.
     * @return 0, or CPPG_ESTATE when --reload is off (nothing is watched).
     */
    int (*watch_file)(const char *path);

    /**
     * Send what was written so far now. The host gathers small writes (up to 64 KiB) and
     * sends them when that fills or the response ends; a response that streams events or
     * progress (server-sent events, a long poll, PEP 3333's iterables) calls this after each
     * piece so that the client gets it at once. Blocks like write while the client is slow to
     * read. The head goes too, even with no body yet.
     * @param req the request handle.
     * @return 0, CPPG_ESTATE before start_response, or CPPG_ECLOSED when the client went away.
     */
    int (*flush)(cppg_request_t *req);
} cppg_host_t;

/**
 * The descriptor an app returns from cppg_app_on_load(). It must stay valid until the
 * process exits (a static const object is the usual choice).
 */
typedef struct cppg_app {
    /** Must be CPPG_ABI_VERSION as the app was compiled. */
    uint32_t abi_version;
    /** sizeof(cppg_app_t) as the app was compiled. */
    uint32_t struct_size;
    /** Human-readable app name for logs and process titles; NUL-terminated, may be NULL. */
    const char *name;

    /**
     * Called once per worker process, before any request, on the worker's main thread.
     * @param host the host table, valid for the life of the process.
     * @param argc number of app arguments (what follows "--" on the server's command line).
     * @param argv the arguments, NUL-terminated. OWNERSHIP: host_ptr, valid until shutdown.
     * @param app_state where the app may store a pointer handed back to handle and shutdown.
     * @return 0 to proceed; anything else makes the worker log the failure and exit.
     */
    int (*init)(const cppg_host_t *host, int argc, const char *const *argv, void **app_state);

    /**
     * Handle one request. Called concurrently from up to `threads` threads.
     * Returning without calling start_response makes the host answer 500.
     * @param app_state the pointer stored by init.
     * @param req the request handle. OWNERSHIP: host_ptr, valid until handle returns.
     * @return 0 on success; a non-zero return after the response started makes the host
     *         close the connection once the bytes written so far are sent (a chunked body
     *         gets no last chunk, so the client sees it is incomplete), and before it
     *         started makes the host answer 500.
     */
    int (*handle)(void *app_state, cppg_request_t *req);

    /**
     * Called once when the process that ran init stops: the worker, or with --preload the
     * master (gunicorn's on_exit). May be NULL.
     * @param app_state the pointer stored by init.
     */
    void (*shutdown)(void *app_state);

    /*
     * Optional hooks, gunicorn's server hooks for plugins. Each may be NULL. They take the
     * place of reserved slots, so an app that leaves them zero keeps working.
     */

    /**
     * In each worker after fork (and after init, or after the master's init with --preload),
     * before it serves: gunicorn's post_fork / post_worker_init. Open per-process resources
     * here.
     * @param app_state the pointer stored by init.
     * @return 0 to proceed; anything else makes the worker fail to boot (see fail_boot).
     */
    int (*worker_start)(void *app_state);

    /**
     * On each app thread when it starts and before it ends: per-thread resources (a database
     * connection per thread) belong here. The worker serves only once thread_start has
     * returned on every thread; one that cannot set its thread up calls host->fail_boot.
     * thread_stop runs only on threads whose thread_start succeeded.
     * @param app_state the pointer stored by init.
     * @param thread_index 0 .. threads-1 within the worker.
     */
    void (*thread_start)(void *app_state, unsigned thread_index);
    void (*thread_stop)(void *app_state, unsigned thread_index);

    /**
     * On the app thread right before handle (gunicorn's pre_request).
     * @param app_state the pointer stored by init.
     * @param req the request; the host table may be used with it as in handle.
     */
    void (*pre_request)(void *app_state, cppg_request_t *req);

    /**
     * On the app thread after handle returned and the response was handed to the server
     * (gunicorn's post_request). The request's environ and headers may still be read.
     * @param app_state the pointer stored by init.
     * @param req the request; read-only calls only (environ_get, header_count, header_at).
     * @param status the status sent (500 when the app failed before answering).
     */
    void (*post_request)(void *app_state, cppg_request_t *req, int status);

    /**
     * In the worker after its last request, before shutdown (gunicorn's worker_exit).
     * @param app_state the pointer stored by init.
     */
    void (*worker_exit)(void *app_state);

    /* ---- Appended after version 1.0, in place of a reserved slot (NULL in older apps). ---- */

    /**
     * Around each fork of a worker, when the app was loaded in the master (--preload): with
     * CPPG_FORK_BEFORE in the master just before fork(), CPPG_FORK_PARENT in the master just
     * after it, CPPG_FORK_CHILD in the new worker before anything else of the app runs there.
     * An embedded runtime with locks and threads of its own needs this to stay consistent in
     * the child (CPython: PyOS_BeforeFork, PyOS_AfterFork_Parent, PyOS_AfterFork_Child). Never
     * called without --preload. May be NULL.
     * @param app_state the pointer stored by init.
     * @param phase one of cppg_fork_phase_t.
     */
    void (*fork_event)(void *app_state, int phase);

    /** Must be zero; room for later additions. */
    void *reserved[1];
} cppg_app_t;

/** The phases of cppg_app_t.fork_event. */
typedef enum cppg_fork_phase {
    CPPG_FORK_BEFORE = 0,
    CPPG_FORK_PARENT = 1,
    CPPG_FORK_CHILD = 2
} cppg_fork_phase_t;

/**
 * The one symbol an app exports. The host calls it right after dlopen.
 * @return the app's descriptor. OWNERSHIP: app_ptr; must live until the process exits.
 */
const cppg_app_t *cppg_app_on_load(void);

/** Type of cppg_app_on_load, for hosts and tests that resolve it with dlsym. */
typedef const cppg_app_t *(*cppg_app_on_load_fn)(void);

#ifdef __cplusplus
}
#endif

#endif /* CPPGUNICORN_APP_H */
