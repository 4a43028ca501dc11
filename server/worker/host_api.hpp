// SPDX-License-Identifier: MIT
// The host side of the app ABI: the function table every app gets (cppg_host_t), backed by
// the worker's exchanges and executor, and the per-thread state its calls answer from.
#pragma once

#include <optional>
#include <string>

#include "cppgunicorn/app.h"

namespace cppg::worker {

// The host function table given to every app's init.
const cppg_host_t* host_table();
// What host->preloaded() answers: set in the master around a --preload init.
void set_preloaded(bool preloaded);
// What host->current_request() answers on the calling thread (null outside a request).
void set_current_request(cppg_request_t* request);

// The boot: from open_boot() until close_boot(), host->fail_boot records why the worker
// cannot serve (the first reason wins; any thread may report).
void open_boot();
void close_boot();
void report_boot_failure(const std::string& reason);
std::optional<std::string> boot_failure();

}  // namespace cppg::worker
