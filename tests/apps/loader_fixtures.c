/* SPDX-License-Identifier: MIT */
/* Plugins that must be refused by the loader. One source, several builds: the macro picks
 * which fault the resulting .so has. */
#include <cppgunicorn/app.h>

#include <stddef.h>

__attribute__((unused)) static int fixture_handle(void *state, cppg_request_t *req) {
    (void)state;
    (void)req;
    return 0;
}

#if defined(FIXTURE_BAD_VERSION)
__attribute__((visibility("default"))) const cppg_app_t *cppg_app_on_load(void) {
    static const cppg_app_t app = {.abi_version = CPPG_ABI_VERSION + 41,
                                   .struct_size = sizeof(cppg_app_t),
                                   .name = "badversion",
                                   .handle = fixture_handle};
    return &app;
}
#elif defined(FIXTURE_INIT_FAILS)
static int fixture_init(const cppg_host_t *h, int argc, const char *const *argv, void **s) {
    (void)h; (void)argc; (void)argv; (void)s;
    return 7;
}
__attribute__((visibility("default"))) const cppg_app_t *cppg_app_on_load(void) {
    static const cppg_app_t app = {.abi_version = CPPG_ABI_VERSION,
                                   .struct_size = sizeof(cppg_app_t),
                                   .name = "initfails",
                                   .init = fixture_init,
                                   .handle = fixture_handle};
    return &app;
}
#elif defined(FIXTURE_MISSING_DEP)
/* Calls into a library that is not installed at run time. */
extern int cppg_fixture_dependency(void);
__attribute__((visibility("default"))) const cppg_app_t *cppg_app_on_load(void) {
    static const cppg_app_t app = {.abi_version = CPPG_ABI_VERSION,
                                   .struct_size = sizeof(cppg_app_t),
                                   .name = "missingdep",
                                   .handle = fixture_handle};
    return cppg_fixture_dependency() ? &app : NULL;
}
#elif defined(FIXTURE_DEPENDENCY)
__attribute__((visibility("default"))) int cppg_fixture_dependency(void) { return 1; }
#else
/* FIXTURE_NO_EXPORT: a shared object that is not a cppgunicorn app at all. */
__attribute__((visibility("default"))) int not_an_app(void) { return 0; }
#endif
