// SPDX-License-Identifier: MIT
#include "master/arbiter.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/inotify.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstdio>
#include <cstring>

#include <spdlog/spdlog.h>

#include "log/logging.hpp"
#include "shared/process.hpp"
#include "shared/signals.hpp"
#include "worker/boot.hpp"

namespace cppg::master {

namespace {

// Slots in the scoreboard: the most workers that can exist at once, old generation included.
constexpr size_t kMaxWorkerSlots = 2 * 1024 + 8;  // --workers allows 1024; HUP doubles briefly
// After SIGABRT for a timeout, how long a worker gets to write its backtrace and die.
constexpr int64_t kAbortGraceMs = 5000;
// After graceful_timeout, how long the master waits for workers before SIGKILL.
constexpr int64_t kKillMarginMs = 2000;
// A quick stop gives workers this long before SIGKILL.
constexpr int64_t kQuickStopMs = 2000;
// --reload acts once the watched files have been quiet this long: a build writes in steps.
constexpr int64_t kReloadQuietMs = 200;

std::string describe_status(int status) {
    if (WIFSIGNALED(status))
        return "was sent " + std::string(shared::signal_name(WTERMSIG(status))) +
               (WCOREDUMP(status) ? " (core dumped)" : "");
    return "exited with code " + std::to_string(WEXITSTATUS(status));
}

}  // namespace

// Logged once here, in the master, rather than by every worker.
app::AppImage capture_app(const std::string& path) {
    app::AppImage image = app::AppImage::capture(path);
    if (!image.held() && image.fallback_reason() != std::strerror(ENOENT))
        spdlog::warn("workers will load app '{}' from the file itself, not a copy ({}): replace it "
                     "by renaming a new file over it, never by writing into it, and a reload that "
                     "fails leaves the file on disk for the next spawn", path, image.fallback_reason());
    return image;
}

Arbiter::Arbiter(config::Config config, std::vector<Listener> listeners, app::AppImage image,
                 std::unique_ptr<app::Plugin> preloaded)
    : config_(std::move(config)),
      listeners_(std::move(listeners)),
      app_image_(std::move(image)),
      preloaded_(std::move(preloaded)),
      scoreboard_(kMaxWorkerSlots),
      num_workers_(static_cast<int>(config_.settings.workers)) {
    for (const auto& l : listeners_) {
        if (l.role == Listener::Role::kAdmin) admin_.listen_on(l.fd);
        else listen_fds_.push_back(l.fd);
    }
    admin_.route("/livez", [this](std::string_view) { return readiness_.livez(); });
    admin_.route("/readyz", [this](std::string_view) { return readiness_.readyz(); });
    admin_.route("/status", [this](std::string_view query) { return status_page(query); });
    admin_.route("/metrics", [this](std::string_view) -> AdminReply {
        if (config_.settings.metrics != "on") return {404, "metrics are off (--metrics on)\n"};
        return {200, render_prometheus(collect_stats()), "text/plain; version=0.0.4; charset=utf-8"};
    });
    sigset_t set = shared::master_signals();
    signal_fd_ = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}

Arbiter::~Arbiter() {
    // Socket files go with the last master using them: not while a new master (USR2) or the
    // old one (a rollback) still serves on them.
    if (reexec_pid_ == 0 && !old_master_alive()) remove_socket_files(listeners_);
    for (int fd : {signal_fd_, reexec_pidfd_, old_master_pidfd_})
        if (fd >= 0) close(fd);
    if (!pidfile_written_.empty()) unlink(pidfile_written_.c_str());
}

void Arbiter::write_pidfile() {
    const std::string& path = config_.settings.pidfile;
    if (path.empty()) return;
    // Written aside and renamed into place, so a reader never sees it empty or half written.
    std::string temp = path + ".tmp";
    // 0644 whatever the umask: others may read it, only root may rewrite what admins kill.
    int fd = open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    std::string text = std::to_string(getpid()) + "\n";
    bool ok = fd >= 0 && fchmod(fd, 0644) == 0 &&
              write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
    if (fd >= 0 && close(fd) != 0) ok = false;
    if (!ok || std::rename(temp.c_str(), path.c_str()) != 0) {
        spdlog::error("cannot write pidfile '{}' ({}: {})", path, errno, std::strerror(errno));
        return;
    }
    pidfile_written_ = path;
}

int Arbiter::run() {
    if (signal_fd_ < 0) {
        spdlog::critical("signalfd() failed ({}: {})", errno, std::strerror(errno));
        return 1;
    }
    write_pidfile();
    // gunicorn's names: with one thread the loop thread runs the app (its sync worker).
    spdlog::info("Using worker: {} ({} worker(s) x {} thread(s))",
                 config_.settings.threads == 1 ? "sync" : "gthread", num_workers_,
                 config_.settings.threads);
    if (config_.settings.reload) watch_files();
    manage_workers();
    readiness_.update(observe_workers(), shared::monotonic_ms());  // before the first probe is answered
    while (!exit_code_) {
        wait_for_events();
        if (reload_due_ms_ && shared::monotonic_ms() >= reload_due_ms_ && !stopping_) {
            reload_due_ms_ = 0;
            spdlog::info("reload: a watched file changed; restarting the workers");
            handle_hup();
        }
        reap_workers();
        murder_workers();
        recycle_workers();
        manage_workers();
        readiness_.update(observe_workers(), shared::monotonic_ms());
        sample_listen_queues();
        if (stopping_ && workers_.empty()) exit_code_ = halt_code_.value_or(0);
    }
    if (preloaded_) preloaded_->shutdown();  // gunicorn's on_exit, for a preloaded app
    spdlog::info("Shutting down: master");
    return *exit_code_;
}

// Sleeps until a signal, a watched file, an admin client or the next deadline, and handles
// the first three.
void Arbiter::wait_for_events() {
    std::vector<pollfd> fds{{signal_fd_, POLLIN, 0}, {watcher_.fd(), POLLIN, 0}, {reexec_pidfd_, POLLIN, 0}};
    size_t admin_first = fds.size();
    admin_.collect_pollfds(fds);
    poll(fds.data(), fds.size(), poll_timeout_ms());
    signalfd_siginfo info{};
    while (read(signal_fd_, &info, sizeof info) == sizeof info)
        handle_signal(static_cast<int>(info.ssi_signo));
    if (watcher_.fd() >= 0 && watcher_.read_changes()) reload_due_ms_ = shared::monotonic_ms() + kReloadQuietMs;
    bool new_master_gone = reexec_pidfd_ >= 0 ? (fds[2].revents & POLLIN) != 0
                                              : reexec_pid_ != 0 && kill(reexec_pid_, 0) != 0 && errno == ESRCH;
    if (new_master_gone) on_reexec_exit();
    admin_.on_poll(fds.data() + admin_first, fds.size() - admin_first);
}

// The accept queues, read every turn of the loop (at least once a second) and at each
// scrape, so that their maximum catches a backlog that builds up between scrapes.
void Arbiter::sample_listen_queues() {
    listen_queue_max_.resize(listeners_.size(), 0);
    for (size_t i = 0; i < listeners_.size(); ++i) {
        uint64_t queued = 0, backlog = 0;
        if (listeners_[i].role == Listener::Role::kHttp && listeners_[i].fd >= 0 &&
            read_listen_queue(listeners_[i].fd, queued, backlog))
            listen_queue_max_[i] = std::max(listen_queue_max_[i], queued);
    }
}

ServiceStats Arbiter::collect_stats() {
    sample_listen_queues();
    ServiceStats s;
    s.totals = counters_of_exited_;
    auto w = observe_workers();
    s.workers_serving = w.serving;
    int threads = static_cast<int>(config_.settings.threads);
    int64_t now_us = shared::monotonic_us();
    for (const auto& [pid, info] : workers_) {
        s.totals.add(info.slot->counters, true, now_us);
        if (info.state != WorkerState::kServing && info.state != WorkerState::kLeaving) continue;
        int busy = 0;
        for (int t = 0; t < std::min<int>(threads, static_cast<int>(shared::kWatchedThreads)); ++t)
            busy += info.slot->threads[t].started_ms.load(std::memory_order_relaxed) != 0;
        s.threads_busy += busy;
        s.threads_idle += threads - busy;
    }
    std::copy(std::begin(restarts_), std::end(restarts_), std::begin(s.restarts));
    s.reloads = reloads_;
    s.reloads.serving_app = app_image_.path();
    s.reloads.serving_app_captured_at = app_image_.held() ? app_image_.captured_at() : 0;
    s.request_timeouts = request_timeouts_;
    for (size_t i = 0; i < listeners_.size(); ++i) {
        ListenQueue q{listeners_[i].url, 0, listen_queue_max_[i], 0};
        if (listeners_[i].role != Listener::Role::kHttp || listeners_[i].fd < 0 ||
            !read_listen_queue(listeners_[i].fd, q.queued, q.backlog))
            continue;
        s.listen_queues.push_back(q);
    }
    return s;
}

AdminReply Arbiter::status_page(std::string_view query) {
    if (config_.settings.metrics != "on") return {404, "the status page needs --metrics on\n"};
    StatusView v;
    v.app = config::process_name(config_);
    v.master = getpid();
    int64_t now = shared::monotonic_ms();
    v.uptime_ms = now - started_ms_;
    v.workers_wanted = num_workers_;
    v.threads_per_worker = static_cast<int>(config_.settings.threads);
    v.stats = collect_stats();
    for (const auto& [pid, info] : workers_) {
        const shared::WorkerSlot& slot = *info.slot;
        WorkerStatus w;
        w.pid = pid;
        // The old generation, serving while a reload's workers boot, is "previous".
        w.state = info.generation != generation_ && info.state == WorkerState::kServing
                      ? "previous"
                      : worker_state_name(info.state);
        w.requests = slot.requests.load(std::memory_order_relaxed);
        w.age_ms = now - info.booted_ms;
        w.rss_kib = resident_kib(pid);
        w.connections = slot.counters.connections_open.load(std::memory_order_relaxed);
        w.busy = slot.busy_threads(static_cast<size_t>(v.threads_per_worker), now);
        v.workers.push_back(std::move(w));
    }
    if (query == "json") return {200, render_status_json(v), "application/json"};
    return {200, render_status_text(v)};
}

int Arbiter::poll_timeout_ms() const {
    int64_t now = shared::monotonic_ms();
    int64_t timeout = std::min<int64_t>(1000, readiness_.next_wake_ms(now) - now);
    if (int64_t admin = admin_.next_deadline_ms()) timeout = std::min(timeout, admin - now);
    if (next_spawn_ms_ > now) timeout = std::min(timeout, next_spawn_ms_ - now);
    if (stopping_) timeout = std::min<int64_t>(timeout, 100);
    if (reload_due_ms_) timeout = std::min(timeout, reload_due_ms_ - now);
    return static_cast<int>(std::max<int64_t>(timeout, 1));
}

// ---- --reload ----

// The app file, the config file, and whatever files the app names (host->watch_file).
void Arbiter::watch_files() {
    if (!watcher_.start()) return;
    auto [uid, gid] = shared::worker_ids(config::worker_identity(config_.settings));
    watcher_.follow_list(uid, gid);
    for (const std::string& path : {config_.app_path, config_.settings.config}) {
        if (path.empty()) continue;
        watcher_.watch(path);
        spdlog::info("reload: watching {}", path);
    }
}

// ---- signals ----

void Arbiter::handle_signal(int signo) {
    const shared::SignalSpec* spec = shared::find_signal(signo);
    if (spec == nullptr) return;
    using A = shared::MasterAction;
    switch (spec->master) {
        case A::kReap: return;  // reap_workers runs after every wake-up
        case A::kGracefulStop: return begin_stop(true);
        case A::kQuickStop: return begin_stop(false);
        case A::kReload: return handle_hup();
        case A::kReopenLogs: return reopen_logs();
        case A::kUpgrade: return reexec();
        case A::kStopWorkers:
            spdlog::info("WINCH: stopping the workers gracefully; the master stays");
            num_workers_ = 0;
            return;
        case A::kMoreWorkers:
            ++num_workers_;
            spdlog::info("TTIN: {} worker(s) wanted", num_workers_);
            return;
        case A::kFewerWorkers:
            num_workers_ = std::max(num_workers_ > 0 ? 1 : 0, num_workers_ - 1);
            spdlog::info("TTOU: {} worker(s) wanted", num_workers_);
            return;
    }
}

void Arbiter::reopen_logs() {
    log::reopen_files();
    auto [uid, gid] = shared::worker_ids(config::worker_identity(config_.settings));
    log::prepare_files_for_workers(config_.settings, uid, gid);
    spdlog::info("USR1: log files reopened");
    for (auto& [pid, info] : workers_) kill(pid, SIGUSR1);
}

void Arbiter::handle_hup() {
    if (stopping_) return;  // no new workers for a master on its way out
    spdlog::info("Hang up: Master");
    readiness_.reload_started();
    auto next = config::reload_config(config_);
    if (auto* err = std::get_if<config::ConfigError>(&next)) {
        spdlog::error("reload rejected, the running configuration stays in force: {}",
                      err->message);
        reloads_.record(false, config_.app_path, "configuration: " + err->message);
        readiness_.reload_failed();
        return;
    }
    auto& fresh = std::get<config::Config>(next);
    if (fresh.settings.bind != config_.settings.bind)
        spdlog::warn("bind changed in the config file; new addresses need a restart");
    fresh.settings.bind = config_.settings.bind;
    if (fresh.settings.admin_bind != config_.settings.admin_bind)
        spdlog::warn("admin_bind changed in the config file; the new address needs a restart");
    fresh.settings.admin_bind = config_.settings.admin_bind;
    if (reload_) abort_reload("another reload began", false);  // the newest configuration wins
    app::AppImage image = preloaded_ ? app::AppImage() : capture_app(fresh.app_path);
    if (config_.settings.reload) watcher_.watch(fresh.app_path);  // it may name another file now
    reload_ = PendingReload{generation_++, config_, std::move(image)};
    config_ = std::move(fresh);
    num_workers_ = static_cast<int>(config_.settings.workers);
    // New workers load the app afresh; the old generation serves until they all do.
    for (int i = 0; i < num_workers_; ++i) spawn_worker();
}

void Arbiter::finish_reload_if_ready() {
    if (!reload_) return;
    int serving = serving_workers();
    if (serving < num_workers_) return;
    spdlog::info("reload: {} new worker(s) serve; stopping the old ones", serving);
    retire_generation(reload_->old_generation, RestartReason::kReload);
    if (!preloaded_) app_image_ = std::move(reload_->image);
    reloads_.record(true, config_.app_path, "");
    reload_.reset();
}

// A worker of the reload's generation died before all of them served: the new app (or
// configuration) does not work. Its siblings go; the old workers never stopped serving.
void Arbiter::abort_reload(const std::string& why, bool failed) {
    spdlog::error("reload {}, the old workers keep serving: {}", failed ? "failed" : "abandoned", why);
    if (failed) reloads_.record(false, config_.app_path, why);
    for (auto& [pid, info] : workers_) info.discarded = info.discarded || info.generation == generation_;
    retire_generation(generation_, RestartReason::kReload);
    generation_ = reload_->old_generation;
    config_ = std::move(reload_->previous);
    num_workers_ = static_cast<int>(config_.settings.workers);
    reload_.reset();
    readiness_.reload_failed();
}

void Arbiter::begin_stop(bool graceful) {
    if (stopping_ && graceful) return;
    spdlog::info("Handling signal: {} ({} stop)", graceful ? "term" : "int/quit",
                 graceful ? "graceful" : "quick");
    stopping_ = true;
    graceful_stop_ = graceful;
    readiness_.stop_started(graceful, old_master_alive());
    close_listeners();
    // Workers enforce graceful_timeout themselves (closing what is left and logging it); the
    // master's SIGKILL comes a little later, for a worker that cannot even do that.
    int64_t grace = graceful ? config_.settings.graceful_timeout * 1000 + kKillMarginMs : kQuickStopMs;
    stop_deadline_ms_ = shared::monotonic_ms() + grace;
    for (auto& [pid, info] : workers_) retire_worker(pid, graceful ? SIGTERM : SIGQUIT, RestartReason::kScale);
}

// ---- binary upgrade (USR2) ----

namespace {

[[noreturn]] void exec_new_master(const std::vector<Listener>& listeners, pid_t old_master) {
    for (const auto& l : listeners) fcntl(l.fd, F_SETFD, 0);  // the one place these cross an exec
    setenv(kInheritedFdsVar, inherited_fds_value(listeners).c_str(), 1);
    setenv(kOldMasterVar, std::to_string(old_master).c_str(), 1);
    // systemd's watchdog follows the main process, which the new master claims to be.
    if (std::getenv("WATCHDOG_USEC")) setenv("WATCHDOG_PID", std::to_string(getpid()).c_str(), 1);
    const auto& cmd = shared::original_command();
    std::vector<char*> argv;
    for (const auto& a : cmd) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execvp(argv[0], argv.data());
    std::fprintf(stderr, "cppgunicorn: execvp(%s) failed: %s\n", argv[0], std::strerror(errno));
    _exit(127);
}

// Starts the new master as a grandchild whose parent exits at once, so that it is adopted by
// the service manager (systemd, PID 1 or a subreaper) before it claims MAINPID: systemd
// supervises a main process that is its own child fully, but one that is not ("alien") only
// half: on stop it would SIGKILL the whole service right after TERM instead of waiting.
// The parent waits until `pidfd` holds the grandchild (it cannot be reaped, so its pid cannot
// be reused, while its parent lives). Returns the new master's pid, or -1 with errno set.
pid_t fork_adopted_new_master(const std::vector<Listener>& listeners, int& pidfd) {
    int pid_pipe[2], hold_pipe[2];
    if (pipe2(pid_pipe, O_CLOEXEC) != 0) return -1;
    if (pipe2(hold_pipe, O_CLOEXEC) != 0) {
        int saved = errno;
        close(pid_pipe[0]), close(pid_pipe[1]);
        errno = saved;
        return -1;
    }
    pid_t old_master = getpid();
    pid_t child = fork();
    if (child == 0) {
        close(pid_pipe[0]), close(hold_pipe[1]);
        pid_t parent = getpid();
        pid_t grandchild = fork();
        if (grandchild == 0) {
            close(pid_pipe[1]), close(hold_pipe[0]);
            for (int i = 0; i < 1000 && getppid() == parent; ++i) usleep(1000);  // until adopted
            exec_new_master(listeners, old_master);
        }
        (void)!write(pid_pipe[1], &grandchild, sizeof grandchild);
        char byte;
        (void)!read(hold_pipe[0], &byte, 1);  // until the old master holds a pidfd
        _exit(0);
    }
    int saved = errno;
    close(pid_pipe[1]), close(hold_pipe[0]);
    pid_t grandchild = -1;
    if (child < 0 || read(pid_pipe[0], &grandchild, sizeof grandchild) != sizeof grandchild ||
        grandchild <= 0) {
        grandchild = -1;
    } else {
        pidfd = static_cast<int>(syscall(SYS_pidfd_open, grandchild, 0));
        saved = errno;
    }
    close(pid_pipe[0]), close(hold_pipe[1]);  // lets the child exit
    if (child > 0) waitpid(child, nullptr, 0);
    errno = saved;
    return grandchild;
}

}  // namespace

// Starts the executable now on disk with the original arguments, handing over the listening
// sockets in CPPGUNICORN_FD. Both masters serve until the operator sends WINCH and TERM to
// this one; if the new one dies first, this one simply goes on.
void Arbiter::reexec() {
    if (stopping_) return;
    if (reexec_pid_ != 0) {
        spdlog::warn("USR2 ignored: the new master (pid {}) is still running", reexec_pid_);
        return;
    }
    // Renamed before the new master can write its own pidfile.
    rename_pidfile(pidfile_written_ + ".oldbin");
    int pidfd = -1;
    pid_t pid = fork_adopted_new_master(listeners_, pidfd);
    if (pid <= 0) {
        int err = errno;
        spdlog::error("starting a new master for the binary upgrade failed ({}: {})", err,
                      std::strerror(err));
        rename_pidfile(config_.settings.pidfile);
        return;
    }
    reexec_pid_ = pid;
    // Not our child: its exit shows on a pidfd (or, without one, to kill(pid, 0)).
    reexec_pidfd_ = pidfd;
    if (pidfd < 0)
        spdlog::warn("pidfd_open({}) failed ({}: {}); watching the new master with kill(pid, 0)",
                     pid, errno, std::strerror(errno));
    readiness_.upgrade_started();
    admin_.pause(true);  // the new master answers probes on the shared admin socket
    spdlog::info("USR2: started a new master (pid {}) from {}; once it serves, send WINCH and "
                 "then TERM to this master (pid {})", pid, shared::original_command()[0], getpid());
}

void Arbiter::on_reexec_exit() {
    if (reexec_pid_ == 0) return;
    spdlog::error("the new master (pid {}) exited; this master keeps serving", reexec_pid_);
    reexec_pid_ = 0;
    if (reexec_pidfd_ >= 0) close(reexec_pidfd_);
    reexec_pidfd_ = -1;
    readiness_.upgrade_failed();
    admin_.pause(false);
    if (pidfile_written_.ends_with(".oldbin")) rename_pidfile(config_.settings.pidfile);
}

void Arbiter::rename_pidfile(const std::string& to) {
    if (pidfile_written_.empty() || pidfile_written_ == to) return;
    if (std::rename(pidfile_written_.c_str(), to.c_str()) == 0) pidfile_written_ = to;
}

void Arbiter::started_by_upgrade(pid_t old_master) {
    readiness_.started_by_upgrade(old_master);
    old_master_pidfd_ = static_cast<int>(syscall(SYS_pidfd_open, old_master, 0));
}

bool Arbiter::old_master_alive() const {
    if (old_master_pidfd_ < 0) return false;
    pollfd p{old_master_pidfd_, POLLIN, 0};
    return poll(&p, 1, 0) == 0;
}

// Workers close their copies as they stop; once the master's are gone too, new clients are
// refused instead of waiting in a backlog nobody will accept from.
void Arbiter::close_listeners() {
    for (int fd : listen_fds_) close(fd);
    listen_fds_.clear();
    for (auto& l : listeners_)
        if (l.role == Listener::Role::kHttp) l.fd = -1;  // the number may be reused now
}

// ---- workers ----

void Arbiter::spawn_worker() {
    shared::WorkerSlot* slot = scoreboard_.claim(-1);
    if (slot == nullptr) {
        spdlog::error("no free scoreboard slot for another worker");
        return;
    }
    const app::AppImage& image = image_to_spawn();
    pid_t master = getpid();
    if (preloaded_) preloaded_->fork_event(CPPG_FORK_BEFORE);
    pid_t pid = fork();
    if (pid != 0 && preloaded_) preloaded_->fork_event(CPPG_FORK_PARENT);
    if (pid < 0) {
        spdlog::error("fork() failed ({}: {})", errno, std::strerror(errno));
        scoreboard_.release(slot);
        return;
    }
    if (pid == 0) {
        if (preloaded_) preloaded_->fork_event(CPPG_FORK_CHILD);
        // A worker never outlives its master: TERM (a graceful stop) when the master dies.
        // Armed after the fork, so check that the master did not die before it was.
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != master) _exit(0);
        for (int fd : {signal_fd_, reexec_pidfd_, old_master_pidfd_})
            if (fd >= 0) close(fd);
        watcher_.close_in_child();
        admin_.close_in_child();
        SystemdNotifier::forget_in_child();
        slot->pid.store(getpid());
        if (reload_) (&image == &app_image_ ? reload_->image : app_image_).close_in_child();
        worker::run_worker(config_, image, listen_fds_, slot, shared::master_signals(), preloaded_.get());
    }
    slot->pid.store(pid);
    WorkerInfo info{slot, generation_, shared::monotonic_ms()};
    info.state_since_ms = info.booted_ms;
    info.retire_at_ms = lifetime_deadline(info.booted_ms);
    workers_[pid] = info;
}

// --max-worker-lifetime, plus a random 0-10 % of it so that workers started together leave
// one by one; 0 when there is no limit.
int64_t Arbiter::lifetime_deadline(int64_t booted_ms) {
    int64_t lifetime_ms = config_.settings.max_worker_lifetime * 1000;
    if (lifetime_ms == 0) return 0;
    std::uniform_int_distribution<int64_t> spread(0, lifetime_ms / 10);
    return booted_ms + lifetime_ms + spread(rng_);
}

// A reload's workers load what it read; every other spawn the image of the last good app. A
// spawn that falls back on it while the last reload failed says so, every time.
const app::AppImage& Arbiter::image_to_spawn() const {
    if (reload_) return reload_->image;
    if (reloads_.last_failed && !preloaded_)
        spdlog::warn("spawning a worker with the last good app, {} as read at {}: the last reload "
                     "failed ({}: {})", app_image_.path(), wall_clock_text(app_image_.captured_at()),
                     reloads_.last_app, reloads_.last_error);
    return app_image_;
}

// A worker that counts toward --workers: of the current generation, booting or serving.
bool Arbiter::stays(const WorkerInfo& info) const {
    return info.generation == generation_ &&
           (info.state == WorkerState::kBooting || info.state == WorkerState::kServing);
}

// Leaving, stopping or aborted: its exit is expected.
bool Arbiter::on_its_way_out(const WorkerInfo& info) const {
    return info.state == WorkerState::kLeaving || info.state == WorkerState::kStopping ||
           info.state == WorkerState::kAborted;
}

// Workers of the current generation that serve (not those leaving): what --workers asks for.
int Arbiter::serving_workers() const {
    int serving = 0;
    for (const auto& [pid, info] : workers_)
        serving += info.generation == generation_ && info.state == WorkerState::kServing;
    return serving;
}

// Every change of a worker's state goes through here.
void Arbiter::enter(pid_t pid, WorkerInfo& info, WorkerState state, RestartReason reason) {
    spdlog::debug("Worker (pid:{}) {} -> {}", pid, worker_state_name(info.state), worker_state_name(state));
    info.state = state;
    info.state_since_ms = shared::monotonic_ms();
    if (state == WorkerState::kServing) info.served = true;
    if (state == WorkerState::kLeaving || state == WorkerState::kStopping || state == WorkerState::kAborted)
        info.reason = reason;
}

// What the workers say of themselves in the scoreboard, read once a turn: a booting worker
// that serves now, a serving one that asked to be replaced (max_requests).
void Arbiter::observe_scoreboard() {
    for (auto& [pid, info] : workers_) observe(pid, info);
}

void Arbiter::observe(pid_t pid, WorkerInfo& info) {
    const shared::WorkerSlot& slot = *info.slot;
    if (info.state == WorkerState::kBooting && slot.serving_ms.load(std::memory_order_acquire) > 0) {
        enter(pid, info, WorkerState::kServing);
        ever_served_ = true;
        // A worker spawned since the last boot failure serves: the run of failures is over.
        if (rapid_failures_ > 0 && info.booted_ms >= last_failure_ms_) {
            spdlog::info("Worker (pid:{}) serves; spawning resumes", pid);
            rapid_failures_ = 0;
        }
    }
    if (info.state == WorkerState::kServing && slot.leave_requested_ms.load(std::memory_order_acquire) > 0)
        enter(pid, info, WorkerState::kLeaving, RestartReason::kMaxRequests);
}

void Arbiter::manage_workers() {
    if (stopping_ || exit_code_) return;
    observe_scoreboard();
    finish_reload_if_ready();
    int current = 0;
    for (const auto& [pid, info] : workers_) current += stays(info) ? 1 : 0;
    if (current < num_workers_ && shared::monotonic_ms() >= next_spawn_ms_) {
        if (rapid_failures_ == 0) {
            for (; current < num_workers_; ++current) spawn_worker();
        } else if (!boot_probe_running()) {
            spawn_worker();
            ++current;
        }
    }
    while (current > num_workers_) {
        // The oldest worker of the current generation goes first, as in gunicorn.
        auto oldest = std::min_element(workers_.begin(), workers_.end(), [this](auto& a, auto& b) {
            if (stays(a.second) != stays(b.second)) return stays(a.second);
            return a.second.booted_ms < b.second.booted_ms;
        });
        retire_worker(oldest->first, SIGTERM, RestartReason::kScale);
        --current;
    }
    replace_leavers();
}

// Workers that asked to leave (max_requests) get TERM once enough others serve in their
// place: recycling never takes capacity away.
void Arbiter::replace_leavers() {
    if (serving_workers() < num_workers_) return;
    for (auto& [pid, info] : workers_) {
        if (info.state != WorkerState::kLeaving) continue;
        spdlog::info("Worker (pid:{}) reached {}; its replacement serves, stopping it", pid,
                     info.reason == RestartReason::kMaxRequests ? "max_requests"
                     : info.reason == RestartReason::kMemory    ? "max_worker_memory"
                                                                : "max_worker_lifetime");
        retire_worker(pid, SIGTERM, info.reason);
    }
}

// --max-worker-memory and --max-worker-lifetime: a serving worker over either is replaced as
// max_requests replaces one (its replacement first). RSS is read at most once a second.
void Arbiter::recycle_workers() {
    const auto& s = config_.settings;
    if (stopping_ || (s.max_worker_memory == 0 && s.max_worker_lifetime == 0)) return;
    int64_t now = shared::monotonic_ms();
    for (auto& [pid, info] : workers_) {
        if (info.state != WorkerState::kServing || info.generation != generation_) continue;
        if (info.retire_at_ms && now >= info.retire_at_ms) {
            recycle(pid, info, RestartReason::kLifetime,
                    "has served " + std::to_string((now - info.booted_ms) / 1000) + " s (max_worker_lifetime " +
                        std::to_string(s.max_worker_lifetime) + " s)");
            continue;
        }
        if (s.max_worker_memory == 0 || now - info.rss_checked_ms < 1000) continue;
        info.rss_checked_ms = now;
        uint64_t rss_mib = resident_kib(pid) / 1024;
        if (rss_mib > static_cast<uint64_t>(s.max_worker_memory))
            recycle(pid, info, RestartReason::kMemory,
                    "uses " + std::to_string(rss_mib) + " MiB of memory (max_worker_memory " +
                        std::to_string(s.max_worker_memory) + " MiB)");
    }
}

void Arbiter::recycle(pid_t pid, WorkerInfo& info, RestartReason reason, const std::string& why) {
    spdlog::info("Worker (pid:{}) {}; replacing it", pid, why);
    enter(pid, info, WorkerState::kLeaving, reason);
}

Readiness::Workers Arbiter::observe_workers() const {
    Readiness::Workers w;
    w.wanted = num_workers_;
    w.requests_served = requests_of_exited_;
    for (const auto& [pid, info] : workers_) {
        w.requests_served += info.slot->requests.load(std::memory_order_relaxed);
        if (info.state == WorkerState::kStopping || info.state == WorkerState::kAborted) continue;
        bool serving = info.state != WorkerState::kBooting;
        if (info.generation != generation_) w.standby += serving;  // the old ones, mid-reload
        else (serving ? w.serving : w.booting) += 1;
    }
    w.old_master_alive = old_master_alive();
    return w;
}

void Arbiter::retire_worker(pid_t pid, int signo, RestartReason reason) {
    auto it = workers_.find(pid);
    if (it == workers_.end() || it->second.state == WorkerState::kAborted) return;
    if (it->second.state != WorkerState::kStopping) enter(pid, it->second, WorkerState::kStopping, reason);
    if (kill(pid, signo) != 0 && errno != ESRCH)
        spdlog::error("kill({}, {}) failed ({}: {})", pid, shared::signal_name(signo), errno,
                      std::strerror(errno));
}

void Arbiter::retire_generation(int generation, RestartReason reason) {
    for (auto& [pid, info] : workers_)
        if (info.generation == generation) retire_worker(pid, SIGTERM, reason);
}

void Arbiter::reap_workers() {
    for (;;) {
        int status = 0;
        pid_t pid = waitpid(-1, &status, WNOHANG);
        if (pid <= 0) return;
        if (pid == reexec_pid_) {  // adopted back: this master is PID 1 (a container)
            on_reexec_exit();
            continue;
        }
        auto it = workers_.find(pid);
        if (it == workers_.end()) continue;
        observe(pid, it->second);  // what it said last: it served, or asked to leave
        WorkerInfo info = it->second;
        workers_.erase(it);
        requests_of_exited_ += info.slot->requests.load();
        counters_of_exited_.add(info.slot->counters, false);
        std::string boot_error = info.slot->boot_error;
        scoreboard_.release(info.slot);
        on_worker_exit(pid, status, info, boot_error);
    }
}

void Arbiter::on_worker_exit(pid_t pid, int status, WorkerInfo& info, const std::string& boot_error) {
    std::string why = describe_status(status) + (boot_error.empty() ? "" : ": " + boot_error);
    if (reload_ && info.generation == generation_ && !on_its_way_out(info) && !stopping_) {
        // The reload failed: no serving worker was replaced, so no restart is counted.
        abort_reload("new worker (pid " + std::to_string(pid) + ") " + why);
        return;
    }
    bool expected = on_its_way_out(info) || stopping_;
    if (!stopping_ && !info.discarded)
        ++restarts_[static_cast<size_t>(on_its_way_out(info) ? info.reason : RestartReason::kCrash)];
    bool boot_failure = WIFEXITED(status) && (WEXITSTATUS(status) == worker::kWorkerBootError ||
                                              WEXITSTATUS(status) == worker::kWorkerAppLoadError);
    if (boot_failure && !expected && !ever_served_) {  // at start: gunicorn's halt, with the worker's code
        halt("Worker (pid:" + std::to_string(pid) + ") failed to boot (" +
                 (WEXITSTATUS(status) == worker::kWorkerAppLoadError ? "the app failed to load"
                                                             : "boot error") +
                 "; see its log line above)",
             WEXITSTATUS(status));
        return;
    }
    if (expected && (WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
        spdlog::debug("Worker (pid:{}) exited cleanly", pid);
        return;
    }
    if (WIFSIGNALED(status) || WEXITSTATUS(status) != 0)
        spdlog::error("Worker (pid:{}) {}", pid, describe_status(status));
    else
        spdlog::info("Worker (pid:{}) exited", pid);
    // Dying before serving, whatever the cause, again and again: wait longer each time
    // instead of spinning. A worker that served and then died (a crash in a request,
    // kill -9) is replaced at once.
    if (!expected && !info.served) back_off("Worker (pid:" + std::to_string(pid) + ") " + why);
}

// One more worker died before serving. The next spawn waits 200 ms, then twice as long
// after each failure in a row (at most 10 s), and only one worker is spawned per step: a
// crash loop costs one fork per step, whatever --workers is.
void Arbiter::back_off(const std::string& why) {
    ++rapid_failures_;
    last_failure_ms_ = shared::monotonic_ms();
    int64_t delay = std::min<int64_t>(100LL << std::min(rapid_failures_, 7), 10000);
    next_spawn_ms_ = last_failure_ms_ + delay;
    spdlog::warn("{} before serving; {} such failure(s) in a row, next spawn in {} ms", why,
                 rapid_failures_, delay);
}

// A worker spawned since the last failure that has not served yet: while one is booting,
// a back-off spawns no other.
bool Arbiter::boot_probe_running() const {
    for (const auto& [pid, info] : workers_)
        if (stays(info) && info.booted_ms >= last_failure_ms_ && info.state == WorkerState::kBooting)
            return true;
    return false;
}

bool Arbiter::all_threads_busy(const shared::WorkerSlot& slot) const {
    size_t watched = std::min<size_t>(static_cast<size_t>(config_.settings.threads), shared::kWatchedThreads);
    for (size_t i = 0; i < watched; ++i)
        if (slot.threads[i].started_ms.load(std::memory_order_acquire) == 0) return false;
    return true;
}

// Workers whose loop stopped beating, or with one request running past the timeout.
void Arbiter::murder_workers() {
    int64_t now = shared::monotonic_ms();
    if (stopping_ && now >= stop_deadline_ms_) {
        for (auto& [pid, info] : workers_) kill_at_stop_deadline(pid, info, now);
        stop_deadline_ms_ = now + 1000;
    }
    int64_t timeout_ms = config_.settings.timeout * 1000;
    for (auto& [pid, info] : workers_) {
        if (info.state == WorkerState::kAborted) {
            if (now - info.state_since_ms > kAbortGraceMs) {
                spdlog::error("Worker (pid:{}) still alive {} ms after SIGABRT; sending SIGKILL",
                              pid, kAbortGraceMs);
                kill(pid, SIGKILL);
                info.state_since_ms = now;
            }
            continue;
        }
        if (timeout_ms == 0) continue;
        shared::WorkerSlot& s = *info.slot;
        for (auto& t : s.threads) {
            int64_t started = t.started_ms.load(std::memory_order_acquire);
            if (started == 0 || now - started <= timeout_ms) continue;
            if (t.client_wait_since_ms.load(std::memory_order_acquire) != 0) continue;  // the client's time
            abort_worker(pid, info, t.tid.load(),
                         "request \"" + std::string(t.request_line) + "\" has run for " +
                             std::to_string((now - started) / 1000.0).substr(0, 5) + " s");
            break;
        }
        // The worker's threads take turns at its loop: while every one of them runs a request,
        // nobody leads it, and the requests' own timeouts cover the silence.
        int64_t alive_ms = all_threads_busy(s) ? now : s.beat_ms.load();
        if (info.state != WorkerState::kAborted && now - alive_ms > timeout_ms)
            abort_worker(pid, info, s.loop_tid.load(),
                         "its event loop has not run for " +
                             std::to_string((now - s.beat_ms.load()) / 1000.0).substr(0, 5) + " s");
    }
}

// The stop's time is up and this worker is still there: say which deadline passed and which
// requests the SIGKILL cuts off, then send it.
void Arbiter::kill_at_stop_deadline(pid_t pid, const WorkerInfo& info, int64_t now) {
    std::string cut = shared::describe(info.slot->busy_threads(static_cast<size_t>(config_.settings.threads), now));
    std::string deadline = graceful_stop_ ? "graceful_timeout (" + std::to_string(config_.settings.graceful_timeout) + " s)"
                                          : "the quick stop's " + std::to_string(kQuickStopMs / 1000) + " s";
    spdlog::error("Worker (pid:{}) still running after {} expired; sending SIGKILL; {}", pid, deadline,
                  cut.empty() ? "no request in an app call (stuck outside one)" : "requests cut off: " + cut);
    kill(pid, SIGKILL);
}

void Arbiter::abort_worker(pid_t pid, WorkerInfo& info, pid_t tid, const std::string& why) {
    spdlog::error("WORKER TIMEOUT (pid:{}): {} (timeout {} s); aborting thread {}; its "
                  "backtrace follows",
                  pid, why, config_.settings.timeout, tid);
    enter(pid, info, WorkerState::kAborted, RestartReason::kTimeout);
    ++request_timeouts_;
    // SIGABRT on the stuck thread itself, so the backtrace the worker prints is that thread's.
    if (tid <= 0 || syscall(SYS_tgkill, pid, tid, SIGABRT) != 0) kill(pid, SIGABRT);
}

void Arbiter::halt(const std::string& reason, int code) {
    spdlog::critical("{}; shutting down", reason);
    for (auto& [pid, info] : workers_) retire_worker(pid, SIGTERM, RestartReason::kScale);
    stopping_ = true;
    readiness_.stop_started(false, old_master_alive());
    close_listeners();
    stop_deadline_ms_ = shared::monotonic_ms() + kQuickStopMs;
    halt_code_ = code;
}

}  // namespace cppg::master
