// SPDX-License-Identifier: MIT
// How the app's reads and writes reach the client: one interface, whatever thread runs the
// app. The exchange calls a Transport; the connection implements it on an AppSocket (the raw
// socket in a worker, a script in the unit tests).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string_view>

namespace cppg::worker {

class Exchange;

class Transport {
public:
    virtual ~Transport() = default;
    // Waits for more of the body and hands it to the exchange (push_body or end_body), or
    // aborts the exchange: either way its state has changed when this returns.
    virtual void pull_body(Exchange& exchange) = 0;
    // Writes all of `bytes`, keeping what the client cannot take yet for the loop to send
    // later. False when the client is gone, too slow, or the output was refused.
    virtual bool write_all(std::string_view bytes) = 0;
    // Sends "100 Continue" (once per request).
    virtual void send_continue() = 0;
    // Sends `len` bytes of file `fd` from `offset`, after what write_all was given. False as
    // for write_all, and when the file is shorter than promised.
    virtual bool send_file(int fd, uint64_t offset, uint64_t len) = 0;
};

// A non-blocking client socket as the app's thread uses it.
class AppSocket {
public:
    virtual ~AppSocket() = default;
    // As read(2)/send(2) on a non-blocking socket: bytes, 0 at EOF (read), or -1 with errno.
    virtual ssize_t read(char* buf, size_t len) = 0;
    virtual ssize_t send(const char* data, size_t len) = 0;
    // As sendfile(2) from `fd` at *offset (advanced by what was sent).
    virtual ssize_t send_file(int fd, off_t* offset, size_t len) = 0;
    enum class Wait { kReady, kTimeout };
    // Waits up to timeout_ms for `events` (POLLIN, POLLOUT). Meanwhile the worker still acts
    // on stop signals; a quick stop may end the process from in here.
    virtual Wait wait(short events, int64_t timeout_ms) = 0;
};

}  // namespace cppg::worker
