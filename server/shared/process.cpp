// SPDX-License-Identifier: MIT
#include "shared/process.hpp"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace cppg::shared {

namespace {

std::string failed(const std::string& call) {
    int err = errno;
    return call + " failed (" + std::to_string(err) + ": " + std::strerror(err) + ")";
}

char* title_start = nullptr;
size_t title_capacity = 0;
std::vector<std::string> command;

}  // namespace

std::optional<std::string> apply_process_settings(const ProcessSettings& settings) {
    if (!settings.chdir.empty() && ::chdir(settings.chdir.c_str()) != 0) return failed("chdir(" + settings.chdir + ")");
    // Only when asked for: otherwise the umask the server was started with (a shell's 022,
    // a unit's UMask=) keeps its pidfile and logs from being world-writable.
    if (settings.umask) ::umask(static_cast<mode_t>(*settings.umask));
    for (const auto& entry : settings.env) {
        auto eq = entry.find('=');
        if (setenv(entry.substr(0, eq).c_str(), entry.substr(eq + 1).c_str(), 1) != 0)
            return failed("setenv(" + entry.substr(0, eq) + ")");
    }
    return std::nullopt;
}

std::optional<std::pair<uid_t, gid_t>> lookup_user(std::string_view name) {
    std::string text(name);
    struct passwd* pw = nullptr;
    if (!text.empty() && text.find_first_not_of("0123456789") == std::string::npos)
        pw = getpwuid(static_cast<uid_t>(std::stoul(text)));
    else
        pw = getpwnam(text.c_str());
    if (pw == nullptr) return std::nullopt;
    return std::make_pair(pw->pw_uid, pw->pw_gid);
}

std::optional<gid_t> lookup_group(std::string_view name) {
    std::string text(name);
    struct group* gr = nullptr;
    if (!text.empty() && text.find_first_not_of("0123456789") == std::string::npos)
        gr = getgrgid(static_cast<gid_t>(std::stoul(text)));
    else
        gr = getgrnam(text.c_str());
    if (gr == nullptr) return std::nullopt;
    return gr->gr_gid;
}

std::pair<uid_t, gid_t> worker_ids(const Identity& identity) {
    auto none = std::make_pair(static_cast<uid_t>(-1), static_cast<gid_t>(-1));
    auto ids = none;
    if (auto user = identity.user.empty() ? std::nullopt : lookup_user(identity.user)) ids = *user;
    if (auto group = identity.group.empty() ? std::nullopt : lookup_group(identity.group)) ids.second = *group;
    return ids;
}

std::optional<std::string> daemonize() {
    for (int round = 0; round < 2; ++round) {
        pid_t pid = fork();
        if (pid < 0) return failed("fork()");
        if (pid > 0) _exit(0);
        // Between the forks: a new session, so the terminal's hangup cannot reach us; the
        // second fork makes sure the daemon never reacquires a controlling terminal.
        if (round == 0 && setsid() < 0) return failed("setsid()");
    }
    int null = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null < 0) return failed("open(/dev/null)");
    for (int fd : {STDIN_FILENO, STDOUT_FILENO, STDERR_FILENO}) dup2(null, fd);
    close(null);
    return std::nullopt;
}

std::optional<std::string> drop_privileges(const Identity& s) {
    if (s.user.empty() && s.group.empty()) return std::nullopt;
    auto user = s.user.empty() ? std::nullopt : lookup_user(s.user);
    if (!s.user.empty() && !user) return "unknown user '" + s.user + "'";
    gid_t gid = user ? user->second : getgid();
    if (!s.group.empty()) {
        auto group = lookup_group(s.group);
        if (!group) return "unknown group '" + s.group + "'";
        gid = *group;
    }
    // Order matters: groups while still root, the user last (after it, nothing can change).
    if (user) {
        struct passwd* pw = getpwuid(user->first);
        if (pw && initgroups(pw->pw_name, gid) != 0) return failed("initgroups(" + s.user + ")");
    } else if (setgroups(1, &gid) != 0) {
        return failed("setgroups()");
    }
    if (setgid(gid) != 0) return failed("setgid(" + std::to_string(gid) + ")");
    if (user && setuid(user->first) != 0) return failed("setuid(" + std::to_string(user->first) + ")");
    if (user && user->first != 0 && setuid(0) == 0) return std::string("privileges could be regained after setuid()");
    return std::nullopt;
}

void init_process_title(int argc, char** argv) {
    if (argc == 0) return;
    command.assign(argv, argv + argc);
    // Before any --chdir: a relative argv[0] is resolved now, while it still means something.
    if (command[0].find('/') != std::string::npos) {
        if (char* full = realpath(command[0].c_str(), nullptr)) {
            command[0] = full;
            std::free(full);
        }
    }
    // argv strings are contiguous; their total length is what a title can use.
    title_start = argv[0];
    char* end = argv[argc - 1] + std::strlen(argv[argc - 1]);
    title_capacity = static_cast<size_t>(end - title_start);
}

void set_process_title(std::string_view title) {
    if (title_start == nullptr || title_capacity == 0) return;
    size_t n = std::min(title.size(), title_capacity);
    std::memcpy(title_start, title.data(), n);
    std::memset(title_start + n, 0, title_capacity - n + 1);
}

const std::vector<std::string>& original_command() { return command; }


}  // namespace cppg::shared
