// SPDX-License-Identifier: MIT
// The master: binds nothing itself (main does, before), forks and supervises the workers,
// and turns signals into actions. Its loop is gunicorn's Arbiter.run(): wait for a signal or
// a second to pass, then reap, murder (timeouts) and manage (counts) workers.
#pragma once

#include <sys/types.h>

#include <csignal>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "app/plugin.hpp"
#include "config/loader.hpp"
#include "master/admin.hpp"
#include "master/file_watcher.hpp"
#include "master/listener.hpp"
#include "master/metrics.hpp"
#include "master/readiness.hpp"
#include "shared/scoreboard.hpp"
#include "master/status.hpp"

namespace cppg::master {

// The app file read into memory for the workers to load (see AppImage); says so in the log
// when it has to be loaded from the file itself.
app::AppImage capture_app(const std::string& path);

class Arbiter {
public:
    // `image` is the app file as read at start; `preloaded` is the app loaded from it and
    // initialised here with --preload, or null.
    Arbiter(config::Config config, std::vector<Listener> listeners, app::AppImage image,
            std::unique_ptr<app::Plugin> preloaded);
    ~Arbiter();
    Arbiter(const Arbiter&) = delete;
    Arbiter& operator=(const Arbiter&) = delete;

    // This master was started by USR2 from `old_master`: it claims MAINPID once it serves.
    void started_by_upgrade(pid_t old_master);

    // Runs until stopped; returns the process exit code.
    int run();

    // The signals the master handles, blocked from the start of main so that none arrives
    // before the loop can read it.

private:
    struct WorkerInfo {
        shared::WorkerSlot* slot = nullptr;
        int generation = 0;
        int64_t booted_ms = 0;
        WorkerState state = WorkerState::kBooting;
        int64_t state_since_ms = 0;  // when it entered its state (kAborted: the last signal sent)
        // Why it goes, once it is leaving, stopping or aborted: the restart reason counted.
        RestartReason reason = RestartReason::kCrash;
        bool served = false;        // it reached kServing at some point
        bool discarded = false;     // of a reload that failed: it replaced nobody
        int64_t retire_at_ms = 0;   // --max-worker-lifetime: recycled from then on (0: never)
        int64_t rss_checked_ms = 0; // --max-worker-memory: the master's last look at its RSS
    };

    void spawn_worker();
    void enter(pid_t pid, WorkerInfo& info, WorkerState state, RestartReason reason = RestartReason::kCrash);
    void observe_scoreboard();
    void observe(pid_t pid, WorkerInfo& info);
    int serving_workers() const;
    void manage_workers();
    void replace_leavers();
    void recycle_workers();
    void recycle(pid_t pid, WorkerInfo& info, RestartReason reason, const std::string& why);
    bool stays(const WorkerInfo& info) const;
    void finish_reload_if_ready();
    void abort_reload(const std::string& why, bool failed = true);
    bool on_its_way_out(const WorkerInfo& info) const;
    void back_off(const std::string& why);
    bool boot_probe_running() const;
    const app::AppImage& image_to_spawn() const;
    int64_t lifetime_deadline(int64_t booted_ms);
    void reap_workers();
    void murder_workers();
    bool all_threads_busy(const shared::WorkerSlot& slot) const;
    void abort_worker(pid_t pid, WorkerInfo& info, pid_t tid, const std::string& why);
    void kill_at_stop_deadline(pid_t pid, const WorkerInfo& info, int64_t now);
    void retire_worker(pid_t pid, int signo, RestartReason reason);
    void retire_generation(int generation, RestartReason reason);
    void sample_listen_queues();
    ServiceStats collect_stats();
    AdminReply status_page(std::string_view query);
    void handle_signal(int signo);
    void handle_hup();
    void reopen_logs();
    void reexec();
    void on_reexec_exit();
    void watch_files();
    void begin_stop(bool graceful);
    void halt(const std::string& reason, int code);
    void on_worker_exit(pid_t pid, int status, WorkerInfo& info, const std::string& boot_error);
    int poll_timeout_ms() const;
    void wait_for_events();
    Readiness::Workers observe_workers() const;
    bool old_master_alive() const;
    void rename_pidfile(const std::string& to);
    void write_pidfile();
    void close_listeners();

    config::Config config_;
    std::vector<Listener> listeners_;
    std::vector<int> listen_fds_;     // the HTTP listeners, which workers accept on
    AdminServer admin_;               // --admin-bind, served by this loop
    Readiness readiness_;
    // The app file as the serving generation read it: every spawn loads this copy until a
    // reload succeeds, so a broken file on disk cannot stop a crashed worker's replacement.
    app::AppImage app_image_;
    std::unique_ptr<app::Plugin> preloaded_;
    shared::Scoreboard scoreboard_;
    std::map<pid_t, WorkerInfo> workers_;
    int num_workers_;
    int generation_ = 0;
    int signal_fd_ = -1;
    FileWatcher watcher_;             // --reload: the app, the config, the app's own files
    int64_t reload_due_ms_ = 0;       // a change was seen; reload once files are quiet
    bool stopping_ = false;
    bool graceful_stop_ = false;
    int64_t stop_deadline_ms_ = 0;
    std::optional<int> exit_code_;
    std::optional<int> halt_code_;    // set when a worker failed to boot
    int rapid_failures_ = 0;          // workers that died before serving, in a row
    int64_t last_failure_ms_ = 0;     // ... the last of them; a worker booted since that serves ends the run
    bool ever_served_ = false;        // a worker has served: boot failures no longer halt
    // A HUP whose new workers do not serve yet: the old generation keeps serving until they
    // all do, and goes on serving (with the old configuration) if one of them fails.
    struct PendingReload {
        int old_generation;
        config::Config previous;
        app::AppImage image;          // the app file as this reload read it
    };
    std::optional<PendingReload> reload_;
    int64_t next_spawn_ms_ = 0;       // back-off: no spawn before this
    std::string pidfile_written_;
    pid_t reexec_pid_ = 0;            // the new master started by USR2, while it runs
    int reexec_pidfd_ = -1;           // readable once that new master has exited
    int old_master_pidfd_ = -1;       // the master whose USR2 started this one (readable: gone)
    uint64_t requests_of_exited_ = 0; // requests served by workers that have exited
    shared::CounterTotals counters_of_exited_;  // everything they counted, so totals never go back
    uint64_t restarts_[kRestartReasonCount]{};
    ReloadHistory reloads_;
    uint64_t request_timeouts_ = 0;
    std::vector<uint64_t> listen_queue_max_;  // per entry of listeners_
    int64_t started_ms_ = shared::monotonic_ms();
    std::mt19937_64 rng_{std::random_device{}()};
};

}  // namespace cppg::master
