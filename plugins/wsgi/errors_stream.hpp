// SPDX-License-Identifier: MIT
// wsgi.errors: a text stream into the server's error log. Each line becomes one log line
// prefixed with the request's id ("[4f2a...] "); a line without its '\n' waits for the
// next write, flush() or the stream's end.
#pragma once

#include <string_view>

#include "python.hpp"

namespace cppg::wsgi {

bool ready_errors_stream_type();

PyObject* new_errors_stream(std::string_view request_id);

}  // namespace cppg::wsgi
