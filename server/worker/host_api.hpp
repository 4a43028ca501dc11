// SPDX-License-Identifier: MIT
// The host side of the app ABI: the function table every app gets (cppg_host_t), backed by
// the worker's exchanges and executor, and the per-thread state its calls answer from.
#pragma once

#include "cppgunicorn/app.h"

namespace cppg::worker {

// The host function table given to every app's init.
const cppg_host_t* host_table();
// What host->preloaded() answers: set in the master around a --preload init.
void set_preloaded(bool preloaded);
// What host->current_request() answers on the calling thread (null outside a request).
void set_current_request(cppg_request_t* request);

}  // namespace cppg::worker
