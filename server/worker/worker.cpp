// SPDX-License-Identifier: MIT
#include "worker/worker.hpp"

#include <malloc.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <random>
#include <cstdlib>

#include <spdlog/spdlog.h>

#include "shared/signals.hpp"
#include "util/split.hpp"
#include "worker/boot.hpp"
#include "worker/host_api.hpp"

namespace cppg::worker {

namespace {

// "a,b" entries of an address-list setting, flattened.
std::vector<std::string> split_address_list(const std::vector<std::string>& entries) {
    std::vector<std::string> out;
    for (const auto& entry : entries)
        for (std::string_view item : util::split(entry, ','))
            if (!item.empty()) out.emplace_back(item);
    return out;
}

bool address_in(const std::vector<std::string>& list, const std::string& address) {
    for (const auto& a : list)
        if (a == "*" || a == address) return true;
    return false;
}

// How often the loop tells the master it is alive. Well under any useful --timeout.
constexpr uint64_t kHeartbeatMs = 250;
// A worker that held at least this many connections and now holds a quarter of that trims
// its heap.
constexpr size_t kTrimAfterConnections = 256;
// A worker that asked to be replaced (max_requests) leaves by itself after this long.
constexpr uint64_t kLeaveFallbackMs = 10000;

template <typename T>
uv_handle_t* as_handle(T* h) {
    return reinterpret_cast<uv_handle_t*>(h);
}

bool is_wildcard(const sockaddr_storage& ss) {
    if (ss.ss_family == AF_INET)
        return reinterpret_cast<const sockaddr_in&>(ss).sin_addr.s_addr == htonl(INADDR_ANY);
    if (ss.ss_family == AF_INET6)
        return IN6_IS_ADDR_UNSPECIFIED(&reinterpret_cast<const sockaddr_in6&>(ss).sin6_addr);
    return false;
}

http::ParserLimits limits_from(const config::Settings& s) {
    return http::ParserLimits{s.limit_request_line, s.limit_request_fields,
                              s.limit_request_field_size, s.limit_request_body};
}

}  // namespace

Worker::Worker(const config::Settings& settings, const app::Plugin& plugin,
               std::vector<int> listen_fds, log::AccessLog* access_log,
               shared::WorkerSlot* slot)
    : settings_(settings),
      plugin_(plugin),
      limits_(limits_from(settings)),
      access_log_(access_log),
      wait_budget_(static_cast<int>(settings.threads)),
      crew_(static_cast<size_t>(settings.threads), *this),
      slot_(slot),
      master_pid_(getppid()),
      counters_(slot && settings.metrics == "on" ? &slot->counters : nullptr) {
    uv_loop_init(&loop_);
    loop_.data = this;
    uv_timer_init(&loop_, &accept_retry_timer_handle_);
    accept_retry_timer_handle_.data = this;
    uv_async_init(&loop_, &async_handle_, [](uv_async_t*) {});  // only ends a turn
    async_handle_.data = this;
    uv_timer_init(&loop_, &graceful_timer_handle_);
    graceful_timer_handle_.data = this;
    uv_timer_init(&loop_, &heartbeat_timer_handle_);
    heartbeat_timer_handle_.data = this;
    if (slot_) {
        slot_->loop_tid.store(static_cast<pid_t>(syscall(SYS_gettid)));
        slot_->beat();
        uv_timer_start(&heartbeat_timer_handle_, on_heartbeat, kHeartbeatMs, kHeartbeatMs);
    }
    if (settings.max_requests > 0) {
        std::mt19937_64 rng(std::random_device{}());
        uint64_t jitter = settings.max_requests_jitter > 0
                              ? rng() % static_cast<uint64_t>(settings.max_requests_jitter + 1)
                              : 0;
        max_requests_ = static_cast<uint64_t>(settings.max_requests) + jitter;
    }
    trusted_proxies_ = split_address_list(settings.forwarded_allow_ips);
    proxy_senders_ = split_address_list(settings.proxy_allow_ips);
    for (int fd : listen_fds) listen_on(fd);
}

// Once every app thread is set up (thread_start), on the thread that finished last while the
// others wait: the loop is nobody's yet.
void Worker::begin_serving() {
    publish_load();
    // Last: an open signalfd is how tests (and people) see that a worker is ready.
    sigset_t handled = shared::worker_signals();
    pthread_sigmask(SIG_BLOCK, &handled, nullptr);  // normally already, inherited from the master
    signal_fd_ = signalfd(-1, &handled, SFD_NONBLOCK | SFD_CLOEXEC);
    if (signal_fd_ < 0) {
        spdlog::critical("signalfd() failed ({}): stop signals will not work", errno);
        return;
    }
    uv_poll_init(&loop_, &signal_poll_handle_, signal_fd_);
    signal_poll_handle_.data = this;
    uv_poll_start(&signal_poll_handle_, UV_READABLE, on_signal_fd);
    if (slot_) slot_->serving_ms.store(shared::monotonic_ms(), std::memory_order_release);
}

bool Worker::trusts_proxy(const std::string& address) const {
    return address_in(trusted_proxies_, address);
}

bool Worker::expects_proxy_line(const std::string& address) const {
    return settings_.proxy_protocol && address_in(proxy_senders_, address);
}

void Worker::on_heartbeat(uv_timer_t* timer) {
    auto* self = static_cast<Worker*>(timer->data);
    self->slot_->beat();
    self->check_master();
    self->give_back_memory();
}

// After a crowd of connections has gone (a burst, hostile clients), malloc keeps the memory
// their buffers used; hand it back to the system once the worker holds far fewer.
void Worker::give_back_memory() {
    size_t open = connections_.size();
    connections_peak_ = std::max(connections_peak_, open);
    if (connections_peak_ < kTrimAfterConnections || open * 4 > connections_peak_) return;
    malloc_trim(0);
    connections_peak_ = open;
}

// PR_SET_PDEATHSIG (set right after fork) sends TERM when the master dies; this catches what
// a signal cannot: a master replaced by an exec'd process, or a signal lost to a race.
void Worker::check_master() {
    if (shutting_down_ || getppid() == master_pid_) return;
    spdlog::warn("the master (pid {}) is gone; stopping gracefully", master_pid_);
    begin_shutdown(true);
}

void Worker::on_request_done() {
    ++requests_done_;
    if (max_requests_ == 0 || requests_done_ != max_requests_ || shutting_down_) return;
    spdlog::info("Autorestarting worker after current request ({} requests served)", requests_done_);
    auto leave = [](uv_timer_t* t) { static_cast<Worker*>(t->data)->begin_shutdown(true); };
    if (slot_ == nullptr) {
        // Not from inside the connection callback that got us here: on the next loop turn.
        uv_timer_start(&graceful_timer_handle_, leave, 0, 0);
        return;
    }
    // Serve on until the master has a replacement serving and sends TERM, so that capacity
    // never drops; SIGCHLD wakes its loop at once (it reaps nothing and looks at the board).
    // Should no TERM come, leave anyway.
    slot_->leave_requested_ms.store(shared::monotonic_ms(), std::memory_order_release);
    kill(master_pid_, SIGCHLD);
    uv_timer_start(&graceful_timer_handle_, leave, kLeaveFallbackMs, 0);
}

Worker::~Worker() {
    uv_loop_close(&loop_);
    if (signal_fd_ >= 0) ::close(signal_fd_);
}

// Closes this worker's copy of the socket; the master's copy keeps queued clients for the
// other workers (or the next generation), so nothing waiting in the backlog is lost. The fd
// is closed now, not in the close callback: with --threads 1 the loop may be inside an app
// call for a long while. uv_close has already removed it from epoll when it returns.
void Worker::close_listener(Listener* listener) {
    uv_close(as_handle(&listener->poll), [](uv_handle_t* h) { delete static_cast<Listener*>(h->data); });
    ::close(listener->fd);
}

bool Worker::listen_on(int fd) {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
    auto listener = std::make_unique<Listener>();
    listener->fd = fd;
    listener->unix_socket = ss.ss_family == AF_UNIX;
    listener->wildcard = is_wildcard(ss);
    if (!listener->unix_socket) {
        format_address(ss, listener->local_name, listener->local_port);
        int one = 1;  // accepted sockets inherit it: no setsockopt per connection
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    // As uv_listen did before workers accepted themselves: --backlog also applies to sockets
    // passed in (fd://, systemd, an upgrade's), which were listening with the sender's.
    ::listen(fd, static_cast<int>(settings_.backlog));
    listener->poll.data = listener.get();
    int rc = uv_poll_init_socket(&loop_, &listener->poll, fd);
    if (rc != 0) {  // the handle is not initialized: nothing for uv_close
        spdlog::error("listening on fd {} failed ({}: {})", fd, -rc, uv_strerror(rc));
        ::close(fd);
        return false;
    }
    rc = uv_poll_start(&listener->poll, UV_READABLE, on_listener_readable);
    if (rc != 0) {
        spdlog::error("listening on fd {} failed ({}: {})", fd, -rc, uv_strerror(rc));
        close_listener(listener.release());
        return false;
    }
    listeners_.push_back(std::move(listener));
    return true;
}

int Worker::run() {
    auto start = [this](size_t i) {
        if (auto err = plugin_.thread_start(static_cast<unsigned>(i))) report_boot_failure(*err);
        return !boot_failure();
    };
    auto stop = [this](size_t i) { plugin_.thread_stop(static_cast<unsigned>(i)); };
    open_boot();
    bool served = crew_.run(start, stop, [this] {
        close_boot();
        begin_serving();
    });
    close_boot();
    return served ? exit_code_ : kWorkerBootError;
}

// ---- the threads and the loop ----

bool Worker::turn(bool wait) { return uv_run(&loop_, wait ? UV_RUN_ONCE : UV_RUN_NOWAIT) != 0; }

void Worker::wake() { uv_async_send(&async_handle_); }

void Worker::on_lead(size_t) {
    uv_update_time(&loop_);  // the last call may have taken a while: timers count from now
    if (!slot_) return;
    thread_local const pid_t tid = static_cast<pid_t>(syscall(SYS_gettid));
    slot_->loop_tid.store(tid, std::memory_order_relaxed);
    slot_->beat();
}

// While every thread runs the app nobody accepts here: peers wait for this worker's share
// only for kSaturatedGraceMs (see least_loaded_peer).
// Kept in the slot's counters even with --metrics off: peers read saturated_since_us.
void Worker::on_all_busy(bool busy) {
    if (!slot_) return;
    // Any thread: only atomics here, the loop's own state may be changing meanwhile.
    int64_t now_us = shared::monotonic_us();
    if (busy) slot_->counters.begin_saturation(now_us);
    else slot_->counters.end_saturation(now_us);
}

char* Worker::read_buffer() {
    thread_local std::unique_ptr<char[]> buffer(new char[Connection::kReadBufferSize]);
    return buffer.get();
}

void Worker::run_app(size_t thread, Exchange& exchange) {
    bool threw = false;
    if (slot_) slot_->begin_request(thread, exchange.request().method(), exchange.request().target());
    if (counters_) counters_->queue.observe(exchange.since_head_us());
    set_current_request(&exchange);
    plugin_.pre_request(&exchange);
    int rc = plugin_.handle(&exchange, threw);
    if (slot_) slot_->end_request(thread);
    int status = exchange.conclude(rc, threw);
    plugin_.post_request(&exchange, status);
    set_current_request(nullptr);
    if (slot_) slot_->beat();  // a call that ends is progress, whoever leads the loop
}

std::vector<Connection*> Worker::open_connections() const {
    std::vector<Connection*> out;
    out.reserve(connections_.size());
    for (UvConnection* c : connections_) out.push_back(&c->connection());
    return out;
}

// ---- accepting ----

namespace {

// Connections taken per wake-up of a listener. Small, so that the workers woken together by
// a burst of connections share it out (nginx accepts one at a time for the same reason).
constexpr int kAcceptBatch = 4;
// Above the least loaded peer by more than this many connections, a worker leaves new ones
// to the others for a moment. Within it, the kernel's order decides.
constexpr int32_t kAcceptSlack = 0;
constexpr uint64_t kAcceptRetryMs = 1;
// After accept() fails for want of file descriptors, wait before trying again.
constexpr uint64_t kNoDescriptorsRetryMs = 100;

}  // namespace

void Worker::on_listener_readable(uv_poll_t* poll, int status, int) {
    auto* listener = static_cast<Listener*>(poll->data);
    auto* self = static_cast<Worker*>(poll->loop->data);
    if (status < 0) {  // libuv has stopped polling it: try again later, as for EMFILE
        spdlog::warn("polling a listener failed ({}: {})", -status, uv_strerror(status));
        return self->pause_accepting(kNoDescriptorsRetryMs);
    }
    self->accept_ready(*listener);
}

// Spreading connections evenly matters when requests block: a worker whose threads are all
// busy must not collect connections that another worker could serve now.
bool Worker::my_turn_to_accept() const {
    if (!slot_) return true;
    int32_t least = slot_->least_loaded_peer(shared::monotonic_ms());
    return least < 0 || static_cast<int32_t>(connections_.size()) <= least + kAcceptSlack;
}

void Worker::accept_ready(Listener& listener) {
    for (int i = 0; i < kAcceptBatch; ++i) {
        if (shutting_down_) return;
        if (connections_.size() >= static_cast<size_t>(settings_.worker_connections))
            return pause_accepting(0);  // on_connection_closed resumes
        if (!my_turn_to_accept()) return pause_accepting(kAcceptRetryMs);
        sockaddr_storage peer{};
        socklen_t peer_len = sizeof peer;
        int fd = accept4(listener.fd, reinterpret_cast<sockaddr*>(&peer), &peer_len,
                         SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) return;  // a peer took it
            if (errno == EINTR || errno == ECONNABORTED) continue;
            spdlog::warn("accept() failed ({}: {})", errno, strerror(errno));
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
                pause_accepting(kNoDescriptorsRetryMs);
            return;
        }
        open_connection(listener, fd, peer);
    }
}

// A stopping worker first takes the connections already waiting in the listen backlog (up to
// worker_connections): if its sockets were the last ones listening, closing them would reset
// those clients. Each then gets its first request answered with Connection: close.
void Worker::take_backlog() {
    for (auto& listener : listeners_) {
        while (connections_.size() < static_cast<size_t>(settings_.worker_connections)) {
            sockaddr_storage peer{};
            socklen_t peer_len = sizeof peer;
            int fd = accept4(listener->fd, reinterpret_cast<sockaddr*>(&peer), &peer_len,
                             SOCK_NONBLOCK | SOCK_CLOEXEC);
            if (fd < 0 && (errno == EINTR || errno == ECONNABORTED)) continue;
            if (fd < 0) break;
            open_connection(*listener, fd, peer);
        }
    }
}

void Worker::open_connection(Listener& listener, int fd, const sockaddr_storage& peer) {
    if (counters_) counters_->accepted.fetch_add(1, std::memory_order_relaxed);
    bool known_local = !listener.unix_socket && !listener.wildcard;
    UvConnection* connection = UvConnection::open(*this, {fd, listener.unix_socket, &peer,
                                                          known_local ? &listener.local_name : nullptr,
                                                          known_local ? &listener.local_port : nullptr});
    if (connection == nullptr) return;
    connections_.insert(connection);
    publish_load();
    connection->connection().open();
}

void Worker::pause_accepting(uint64_t retry_ms) {
    if (accepting_) {
        for (auto& listener : listeners_) uv_poll_stop(&listener->poll);
        accepting_ = false;
    }
    if (retry_ms) uv_timer_start(&accept_retry_timer_handle_, on_accept_retry, retry_ms, 0);
}

void Worker::resume_accepting() {
    if (accepting_ || shutting_down_) return;
    uv_timer_stop(&accept_retry_timer_handle_);
    accepting_ = true;
    for (auto& listener : listeners_)
        uv_poll_start(&listener->poll, UV_READABLE, on_listener_readable);
}

void Worker::on_accept_retry(uv_timer_t* timer) { static_cast<Worker*>(timer->data)->resume_accepting(); }

// Loop side. What peers see (open_connections) is -1 while this worker stops, else how
// many connections it holds; whether its threads are all in calls goes beside it.
void Worker::publish_load() {
    if (counters_)
        counters_->connections_open.store(static_cast<int64_t>(connections_.size()), std::memory_order_relaxed);
    int32_t load = shutting_down_ ? -1 : static_cast<int32_t>(connections_.size());
    if (slot_) slot_->open_connections.store(load, std::memory_order_relaxed);
}

void Worker::on_closed(Connection& closed) {
    auto* connection = static_cast<UvConnection*>(&closed.io());
    connections_.erase(connection);
    delete connection;
    publish_load();
    if (shutting_down_) finish_shutdown_if_done();
    else if (connections_.size() < static_cast<size_t>(settings_.worker_connections))
        resume_accepting();  // below capacity, and maybe the least loaded again: look now
}

// ---- stopping ----

// A signalfd rather than uv_signal: an app call on the loop thread (--threads 1) that waits
// for its socket can poll it too (wait_for_socket), so stop signals work during long uploads
// and downloads.
void Worker::on_signal_fd(uv_poll_t* poll, int, int) { static_cast<Worker*>(poll->data)->read_signals(); }

void Worker::read_signals() {
    signalfd_siginfo info;
    while (::read(signal_fd_, &info, sizeof info) == static_cast<ssize_t>(sizeof info))
        on_signal(static_cast<int>(info.ssi_signo));
}

void Worker::on_signal(int signum) {
    const shared::SignalSpec* spec = shared::find_signal(signum);
    if (spec == nullptr) return;
    switch (spec->worker) {
        case shared::WorkerAction::kReopenLogs: return log::reopen_files();
        case shared::WorkerAction::kGracefulStop: return begin_shutdown(true);
        case shared::WorkerAction::kQuickStop: return begin_shutdown(false);
        case shared::WorkerAction::kIgnore:
        case shared::WorkerAction::kDefault: return;
    }
}

AppSocket::Wait Worker::wait_for_socket(int fd, short events, int64_t timeout_ms) {
    int64_t deadline = shared::monotonic_ms() + timeout_ms;
    for (;;) {
        int64_t now = shared::monotonic_ms();
        int64_t graceful_deadline = graceful_deadline_ms_.load(std::memory_order_acquire);
        if (graceful_deadline && now >= graceful_deadline)
            crew_.lead_briefly([this] { graceful_timeout_expired(); });
        int64_t limit = deadline - now;
        if (limit <= 0) return AppSocket::Wait::kTimeout;
        // Signals are the leader's to read; with no leader (every thread busy) this thread
        // watches for them. Leadership may change meanwhile, so look again now and then.
        bool watch_signals = crew_.leaderless();
        limit = std::min<int64_t>(limit, watch_signals ? 1000 : 100);
        if (graceful_deadline) limit = std::max<int64_t>(1, std::min(limit, graceful_deadline - now));
        pollfd fds[2] = {{fd, events, 0}, {signal_fd_, POLLIN, 0}};
        int rc = poll(fds, watch_signals && signal_fd_ >= 0 ? 2 : 1, static_cast<int>(limit));
        if (rc < 0 && errno != EINTR) return AppSocket::Wait::kReady;  // the caller's I/O call reports it
        if (rc <= 0) continue;
        if (watch_signals && (fds[1].revents & POLLIN)) crew_.lead_briefly([this] { read_signals(); });
        if (fds[0].revents) return AppSocket::Wait::kReady;
    }
}

void Worker::begin_shutdown(bool graceful) {
    if (shutting_down_ && graceful) return;
    spdlog::info("{} stop: {} connection(s) open", graceful ? "graceful" : "quick",
                 connections_.size());
    shutting_down_ = true;
    if (slot_) slot_->serving_ms.store(0, std::memory_order_release);
    publish_load();
    if (graceful) take_backlog();
    for (auto& listener : listeners_) close_listener(listener.release());
    listeners_.clear();
    uv_timer_stop(&accept_retry_timer_handle_);
    // Copy: closing may delete connections and change the set.
    for (Connection* c : open_connections()) {
        if (graceful) c->stop_when_idle();
        else c->close();
    }
    if (graceful) {
        uv_timer_start(&graceful_timer_handle_, on_graceful_timeout,
                       static_cast<uint64_t>(settings_.graceful_timeout) * 1000, 0);
        graceful_deadline_ms_.store(shared::monotonic_ms() + settings_.graceful_timeout * 1000);
    } else {
        abandon_busy_app_threads();
    }
    finish_shutdown_if_done();
}

// Connections still open after close() are waiting for an app call that has not returned.
// A thread cannot be cancelled safely, so a quick stop leaves the process without them.
void Worker::abandon_busy_app_threads() {
    // Calls running now; jobs that are ready but not started never will be (their exchange
    // is aborted), and those already back are closed like any connection.
    size_t busy = crew_.away();
    if (busy == 0) return;
    spdlog::warn("stopping with {} app call(s) still running; they are abandoned", busy);
    spdlog::shutdown();
    std::_Exit(exit_code_);
}

void Worker::on_graceful_timeout(uv_timer_t* timer) {
    static_cast<Worker*>(timer->data)->graceful_timeout_expired();
}

void Worker::graceful_timeout_expired() {
    if (graceful_deadline_ms_.exchange(0) == 0) return;
    std::string cut = slot_ ? shared::describe(slot_->busy_threads(crew_.threads(), shared::monotonic_ms())) : "";
    spdlog::warn("graceful_timeout ({} s) expired with {} connection(s) busy; closing them{}{}",
                 settings_.graceful_timeout, connections_.size(), cut.empty() ? "" : "; requests cut off: ",
                 cut);
    for (Connection* c : open_connections()) c->close();
    abandon_busy_app_threads();
}

void Worker::finish_shutdown_if_done() {
    if (!connections_.empty() || loop_handles_closed_) return;
    close_loop_handles();
}

void Worker::close_loop_handles() {
    loop_handles_closed_ = true;
    // No connection is left, so no app thread can wake the loop any more.
    uv_close(as_handle(&async_handle_), nullptr);
    if (signal_fd_ >= 0) uv_close(as_handle(&signal_poll_handle_), nullptr);
    uv_close(as_handle(&accept_retry_timer_handle_), nullptr);
    uv_close(as_handle(&graceful_timer_handle_), nullptr);
    uv_close(as_handle(&heartbeat_timer_handle_), nullptr);
}

}  // namespace cppg::worker
