// SPDX-License-Identifier: MIT
// A worker process: its event loop (the listening sockets it inherited, every client
// connection and their timers) and the M threads that take turns at that loop and run the
// app (LeaderFollowers). libuv is only ever called by the thread that leads the loop.
#pragma once

#include <uv.h>

#include <atomic>
#include <memory>
#include <string>
#include <unordered_set>
#include <vector>

#include "app/plugin.hpp"
#include "config/settings.hpp"
#include "http/parser.hpp"
#include "log/logging.hpp"
#include "shared/scoreboard.hpp"
#include "worker/connection.hpp"
#include "worker/leader_followers.hpp"
#include "worker/uv_connection.hpp"

namespace cppg::worker {

class Worker final : public UvConnectionOwner, private LeaderFollowers::Loop {
public:
    Worker(const config::Settings& settings, const app::Plugin& plugin,
           std::vector<int> listen_fds, log::AccessLog* access_log,
           shared::WorkerSlot* slot = nullptr);
    ~Worker() override;
    Worker(const Worker&) = delete;
    Worker& operator=(const Worker&) = delete;

    // The signals it acts on (shared::worker_signals()) must be blocked in every thread of
    // the process before the Worker is built: the loop reads them from a signalfd.

    // Sets up the app's threads (thread_start), then serves on them until SIGTERM (graceful)
    // or SIGINT/SIGQUIT (quick). Returns the exit code, or kWorkerBootError when a thread could not
    // be set up (boot_failure() says why) and nothing was served.
    int run();

    // For an app call that must wait for its socket: waits up to timeout_ms for `events` on
    // `fd`. If no thread leads the loop meanwhile, this one still acts on stop signals and
    // the graceful_timeout: a quick stop, or a graceful_timeout that expires, ends the process
    // from in here.
    AppSocket::Wait wait_for_socket(int fd, short events, int64_t timeout_ms) override;

    uv_loop_t* loop() override { return &loop_; }
    // forwarded_allow_ips: may this peer set X-Forwarded-Proto?
    bool trusts_proxy(const std::string& address) const override;
    // proxy_protocol and proxy_allow_ips: must this peer start with a PROXY line?
    bool expects_proxy_line(const std::string& address) const override;

    // ConnectionOwner
    const config::Settings& settings() const override { return settings_; }
    const http::ParserLimits& limits() const override { return limits_; }
    log::AccessLog* access_log() override { return access_log_; }
    shared::RequestCounters* counters() override { return counters_; }
    ClientWaitBudget& wait_budget() override { return wait_budget_; }
    shared::ThreadSlot* thread_slot(size_t thread) override {
        return slot_ ? slot_->thread_slot(thread) : nullptr;
    }
    char* read_buffer() override;
    void run_app(size_t thread, Exchange& exchange) override;
    bool shutting_down() const override { return shutting_down_; }
    void dispatch(Connection& connection) override { crew_.push_ready(&connection); }
    void on_request_done() override;
    void on_closed(Connection& connection) override;

private:
    struct Listener;
    static void on_listener_readable(uv_poll_t* poll, int status, int events);
    static void on_accept_retry(uv_timer_t* timer);
    // LeaderFollowers::Loop
    bool turn(bool wait) override;
    void wake() override;
    void on_lead(size_t thread) override;
    void on_all_busy(bool busy) override;

    void begin_serving();
    static void on_signal_fd(uv_poll_t* poll, int status, int events);
    void read_signals();
    void on_signal(int signum);
    void graceful_timeout_expired();
    static void on_graceful_timeout(uv_timer_t* timer);
    static void on_heartbeat(uv_timer_t* timer);
    void check_master();
    void give_back_memory();

    bool listen_on(int fd);
    void take_backlog();
    void open_connection(Listener& listener, int fd, const sockaddr_storage& peer);
    std::vector<Connection*> open_connections() const;
    static void close_listener(Listener* listener);
    void accept_ready(Listener& listener);
    bool my_turn_to_accept() const;
    void pause_accepting(uint64_t retry_ms);
    void resume_accepting();
    void publish_load();
    void begin_shutdown(bool graceful);
    void finish_shutdown_if_done();
    void abandon_busy_app_threads();
    void close_loop_handles();

    const config::Settings& settings_;
    const app::Plugin& plugin_;
    http::ParserLimits limits_;
    std::vector<std::string> trusted_proxies_;  // forwarded_allow_ips, split; "*" for all
    std::vector<std::string> proxy_senders_;    // proxy_allow_ips, split
    log::AccessLog* access_log_;
    ClientWaitBudget wait_budget_;
    LeaderFollowers crew_;

    uv_loop_t loop_;
    uv_async_t async_handle_;
    int signal_fd_ = -1;
    uv_poll_t signal_poll_handle_;
    // Steady clock; 0 until a graceful stop begins. Read by app threads waiting for clients.
    std::atomic<int64_t> graceful_deadline_ms_{0};
    uv_timer_t graceful_timer_handle_;
    uv_timer_t heartbeat_timer_handle_;
    shared::WorkerSlot* slot_;
    pid_t master_pid_;  // the parent at start; a different parent means the master died
    size_t connections_peak_ = 0;  // since the heap was last trimmed
    shared::RequestCounters* counters_ = nullptr;
    uint64_t requests_done_ = 0;
    uint64_t max_requests_ = 0;  // 0: no limit; else max_requests plus this worker's jitter
    // Accepting is ours rather than uv_listen's, so that a worker can leave a connection in
    // the kernel's queue for a less loaded peer instead of taking it and holding it.
    struct Listener {
        int fd;
        bool unix_socket;
        bool wildcard;  // bound to 0.0.0.0 or [::]: each connection's local address differs
        std::string local_name, local_port;
        uv_poll_t poll;
    };
    std::vector<std::unique_ptr<Listener>> listeners_;
    bool accepting_ = true;  // the listeners are polled
    uv_timer_t accept_retry_timer_handle_;
    std::unordered_set<UvConnection*> connections_;
    bool shutting_down_ = false;
    bool loop_handles_closed_ = false;
    int exit_code_ = 0;

};

}  // namespace cppg::worker
