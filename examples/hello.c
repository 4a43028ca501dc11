/* SPDX-License-Identifier: MIT */
/* The smallest cppgunicorn app, in plain C against the ABI: 200 "Hello, World!\n". */
#include <cppgunicorn/app.h>

static const cppg_host_t *host;

static int hello_init(const cppg_host_t *h, int argc, const char *const *argv, void **state) {
    (void)argc;
    (void)argv;
    (void)state;
    host = h;
    return 0;
}

static int hello_handle(void *state, cppg_request_t *req) {
    static const char body[] = "Hello, World!\n";
    static const cppg_header_t headers[] = {
        {{"Content-Type", 12}, {"text/plain", 10}},
        {{"Content-Length", 14}, {"14", 2}},
    };
    (void)state;
    int rc = host->start_response(req, "200 OK", headers, 2);
    if (rc == 0) rc = host->write(req, body, sizeof body - 1);
    return rc;
}

__attribute__((visibility("default"))) const cppg_app_t *cppg_app_on_load(void) {
    static const cppg_app_t app = {
        .abi_version = CPPG_ABI_VERSION,
        .struct_size = sizeof(cppg_app_t),
        .name = "hello",
        .init = hello_init,
        .handle = hello_handle,
    };
    return &app;
}
