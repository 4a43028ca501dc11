// SPDX-License-Identifier: MIT
// Binding the listening sockets. The master does this before any worker exists, so that
// workers inherit the sockets and a restart never closes them.
#pragma once

#include <sys/types.h>

#include <string>
#include <variant>
#include <vector>

namespace cppg::master {

struct Listener {
    enum class Role { kHttp, kAdmin };  // served by the workers, or by the master (admin_bind)
    int fd = -1;
    std::string url;        // "http://127.0.0.1:8000", "unix:/run/app.sock", for logs
    std::string unix_path;  // a socket file this process created, removed at exit
    Role role = Role::kHttp;
};

// The sockets systemd passed (LISTEN_PID is us, LISTEN_FDS > 0), or none. A socket named
// "admin" in LISTEN_FDNAMES (FileDescriptorName=admin) becomes the admin listener. The
// variables are removed so that workers and the app do not see them.
std::vector<Listener> systemd_listeners();

// The environment variable through which an upgrading master hands its sockets over:
// "3,4,admin:5" lists the inherited descriptors, the admin listener marked.
inline constexpr const char* kInheritedFdsVar = "CPPGUNICORN_FD";

// And the pid of the old master that started this one.
inline constexpr const char* kOldMasterVar = "CPPGUNICORN_OLD_MASTER";

// The value of kInheritedFdsVar for these listeners.
std::string inherited_fds_value(const std::vector<Listener>& listeners);

// The sockets an old master passed in CPPGUNICORN_FD (USR2), or none; the variable is removed.
std::vector<Listener> inherited_listeners();

// The pid of the master whose USR2 started this one, or 0; the variable is removed.
pid_t upgrading_master();

// Binds and listens on every address; an error names the address and the failed call.
// Unix socket files get the mode 0777 & ~socket_umask.
std::variant<std::vector<Listener>, std::string> bind_listeners(
    const std::vector<std::string>& addresses, int backlog, unsigned socket_umask);

// Removes the socket files of unix listeners (at exit).
void remove_socket_files(const std::vector<Listener>& listeners);

}  // namespace cppg::master
