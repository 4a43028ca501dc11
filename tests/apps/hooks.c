/* SPDX-License-Identifier: MIT */
/* Test fixture: logs every lifecycle hook with the pid, so tests can check which process
 * and thread each one runs in. App argument "fail-worker-start" makes worker_start fail,
 * "crash-worker-start" makes it crash. */
#include <cppgunicorn/app.h>

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const cppg_host_t *host;
static int fail_worker_start;
static int crash_worker_start;

static void say(const char *text) {
    char line[256];
    int n = snprintf(line, sizeof line, "hooks: %s pid=%d", text, (int)getpid());
    host->log(CPPG_LOG_INFO, line, (size_t)n);
}

static int hooks_init(const cppg_host_t *h, int argc, const char *const *argv, void **state) {
    (void)state;
    host = h;
    fail_worker_start = argc > 0 && strcmp(argv[0], "fail-worker-start") == 0;
    crash_worker_start = argc > 0 && strcmp(argv[0], "crash-worker-start") == 0;
    int preloaded = h->struct_size >= sizeof(cppg_host_t) && h->preloaded();
    say(preloaded ? "init preloaded=1" : "init preloaded=0");
    return 0;
}

static int hooks_worker_start(void *state) {
    (void)state;
    say("worker_start");
    say(host->current_request() == NULL ? "current_request outside: null" : "current_request outside: SET");
    if (crash_worker_start) raise(SIGSEGV); /* a worker that dies at every boot */
    return fail_worker_start ? 1 : 0;
}

static void hooks_thread_start(void *state, unsigned index) {
    (void)state;
    char text[64];
    snprintf(text, sizeof text, "thread_start %u", index);
    say(text);
}

static void hooks_thread_stop(void *state, unsigned index) {
    (void)state;
    char text[64];
    snprintf(text, sizeof text, "thread_stop %u", index);
    say(text);
}

static void hooks_pre_request(void *state, cppg_request_t *req) {
    (void)state;
    cppg_str_t path;
    host->environ_get(req, "PATH_INFO", &path);
    char text[128];
    snprintf(text, sizeof text, "pre_request %.*s", (int)path.len, path.ptr);
    say(text);
}

static void hooks_post_request(void *state, cppg_request_t *req, int status) {
    (void)state;
    cppg_str_t path;
    host->environ_get(req, "PATH_INFO", &path);
    char text[128];
    snprintf(text, sizeof text, "post_request %.*s status=%d", (int)path.len, path.ptr, status);
    say(text);
}

static void hooks_worker_exit(void *state) {
    (void)state;
    say("worker_exit");
}

static void hooks_shutdown(void *state) {
    (void)state;
    say("shutdown");
}

static void hooks_fork_event(void *state, int phase) {
    (void)state;
    say(phase == CPPG_FORK_BEFORE ? "fork_event before" : phase == CPPG_FORK_PARENT ? "fork_event parent"
                                                                                   : "fork_event child");
}

static int hooks_handle(void *state, cppg_request_t *req) {
    (void)state;
    /* The C ABI's request(): the host knows which request this thread is handling. */
    say(host->current_request() == req ? "current_request matches" : "current_request MISMATCH");
    static const cppg_header_t headers[] = {{{"Content-Length", 3}, {"3", 1}}};
    int rc = host->start_response(req, "201 Created", headers, 1);
    return rc ? rc : host->write(req, "ok\n", 3);
}

__attribute__((visibility("default"))) const cppg_app_t *cppg_app_on_load(void) {
    static const cppg_app_t app = {
        .abi_version = CPPG_ABI_VERSION,
        .struct_size = sizeof(cppg_app_t),
        .name = "hooks",
        .init = hooks_init,
        .handle = hooks_handle,
        .shutdown = hooks_shutdown,
        .worker_start = hooks_worker_start,
        .thread_start = hooks_thread_start,
        .thread_stop = hooks_thread_stop,
        .pre_request = hooks_pre_request,
        .post_request = hooks_post_request,
        .worker_exit = hooks_worker_exit,
        .fork_event = hooks_fork_event,
    };
    return &app;
}
