// SPDX-License-Identifier: MIT
// The cppg_host_t table: the C entry points an app calls, forwarded to the Exchange behind
// each request handle.
#include <sys/stat.h>

#include <mutex>

#include <spdlog/spdlog.h>

#include "worker/host_api.hpp"
#include "shared/watch_list.hpp"
#include "worker/exchange.hpp"
#include "worker/executor.hpp"

namespace cppg::worker {

namespace {

using worker::Exchange;

Exchange* exchange(cppg_request_t* r) { return static_cast<Exchange*>(r); }
const Exchange* exchange(const cppg_request_t* r) { return static_cast<const Exchange*>(r); }

int host_environ_get(const cppg_request_t* r, const char* key, cppg_str_t* out) {
    if (r == nullptr || key == nullptr || out == nullptr) return CPPG_EINVAL;
    return const_cast<Exchange*>(exchange(r))->environ_get(key, out);
}

size_t host_header_count(const cppg_request_t* r) { return r ? exchange(r)->header_count() : 0; }

int host_header_at(const cppg_request_t* r, size_t index, cppg_header_t* out) {
    if (r == nullptr || out == nullptr) return CPPG_EINVAL;
    return exchange(r)->header_at(index, out);
}

ptrdiff_t host_read(cppg_request_t* r, void* buf, size_t len) {
    if (r == nullptr || (buf == nullptr && len > 0)) return CPPG_EINVAL;
    if (len == 0) return 0;
    return exchange(r)->read(buf, len);
}

int host_start_response(cppg_request_t* r, const char* status, const cppg_header_t* headers,
                        size_t n) {
    if (r == nullptr) return CPPG_EINVAL;
    return exchange(r)->start_response(status, headers, n);
}

int host_write(cppg_request_t* r, const void* data, size_t len) {
    if (r == nullptr || (data == nullptr && len > 0)) return CPPG_EINVAL;
    return exchange(r)->write(data, len);
}

// Checked here, before anything is sent: a file that cannot supply the bytes must fail the
// call, not the client's connection halfway through a response.
int host_send_file(cppg_request_t* r, int fd, uint64_t offset, uint64_t len) {
    struct stat st {};
    if (r == nullptr || fd < 0 || ::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) return CPPG_EINVAL;
    auto size = static_cast<uint64_t>(st.st_size);
    if (offset > size || len > size - offset) return CPPG_EINVAL;
    return exchange(r)->send_file(fd, offset, len);
}

void host_log(int level, const char* msg, size_t len) {
    static constexpr spdlog::level::level_enum kLevels[] = {
        spdlog::level::debug, spdlog::level::info, spdlog::level::warn, spdlog::level::err,
        spdlog::level::critical};
    if (level < 0) level = 0;
    if (level > 4) level = 4;
    spdlog::log(kLevels[level], "{}", std::string_view(msg ? msg : "", msg ? len : 0));
}

const char* host_strerror(int err) {
    switch (err) {
        case CPPG_OK: return "success";
        case CPPG_EINVAL: return "invalid argument";
        case CPPG_ESTATE: return "call out of order";
        case CPPG_ECLOSED: return "client connection closed";
        case CPPG_EBODY: return "malformed or truncated request body";
        case CPPG_ETOOLARGE: return "request body too large";
        case CPPG_ETIMEDOUT: return "timed out waiting for the request body";
        case CPPG_EBUSY: return "the shared executor's queue is full";
        default: return "unknown error";
    }
}

bool preloaded_flag = false;

thread_local cppg_request_t* thread_request = nullptr;

cppg_request_t* host_current_request() { return thread_request; }

int host_submit(void (*fn)(void*), void* arg) {
    worker::Executor* executor = worker::current_executor();
    if (fn == nullptr) return CPPG_EINVAL;
    if (executor == nullptr) return CPPG_ESTATE;
    return executor->submit(fn, arg) ? CPPG_OK : CPPG_EBUSY;
}

int host_preloaded() { return preloaded_flag ? 1 : 0; }

// Reported from thread_start on any app thread, read once they have all returned.
std::mutex boot_mu;
bool boot_open = false;
std::optional<std::string> boot_failure_reason;

int host_flush(cppg_request_t* r) {
    if (r == nullptr) return CPPG_EINVAL;
    return exchange(r)->flush_now();
}

int host_watch_file(const char* path) {
    if (path == nullptr) return CPPG_EINVAL;
    return shared::append_to_watch_list(path) ? CPPG_OK : CPPG_ESTATE;
}

int host_fail_boot(const char* reason) {
    std::lock_guard lock(boot_mu);
    if (!boot_open) return CPPG_ESTATE;
    if (!boot_failure_reason) boot_failure_reason = reason && *reason ? reason : "(no reason given)";
    return CPPG_OK;
}

const cppg_host_t kHostTable = {
    sizeof(cppg_host_t), CPPG_ABI_VERSION, host_environ_get, host_header_count, host_header_at,
    host_read,           host_start_response, host_write, host_log, host_strerror,
    host_preloaded,      host_submit,         host_current_request, host_send_file,
    host_fail_boot,      host_watch_file,     host_flush,
};

}  // namespace

const cppg_host_t* host_table() { return &kHostTable; }

void set_preloaded(bool preloaded) { preloaded_flag = preloaded; }

void set_current_request(cppg_request_t* request) { thread_request = request; }

void open_boot() {
    std::lock_guard lock(boot_mu);
    boot_open = true;
    boot_failure_reason.reset();
}

void close_boot() {
    std::lock_guard lock(boot_mu);
    boot_open = false;
}

void report_boot_failure(const std::string& reason) {
    std::lock_guard lock(boot_mu);
    if (!boot_failure_reason) boot_failure_reason = reason;
}

std::optional<std::string> boot_failure() {
    std::lock_guard lock(boot_mu);
    return boot_failure_reason;
}

}  // namespace cppg::worker
