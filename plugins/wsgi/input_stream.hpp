// SPDX-License-Identifier: MIT
// wsgi.input: the request body as a file-like object (read, readline, readlines,
// iteration) that never returns more than asked, ends at the body's end, and reads from the
// host with the GIL released. A host error (too large, malformed, too slow) raises
// cppgunicorn.BodyError, an OSError whose .status the server answers with.
#pragma once

#include <cstdint>

#include "python.hpp"

namespace cppg::wsgi {

// Readies the type (once, GIL held); false with a Python error set on failure.
bool ready_input_stream_type();

// A stream over req's body; content_length is -1 when the body is chunked (or absent).
PyObject* new_input_stream(cppg_request_t* req, int64_t content_length);

// The request ended: further reads raise ValueError. Waits (without the GIL) for a read
// that another thread has in progress, since the handle must not outlive the request.
void end_input_stream(PyObject* stream);

// The host's error code a read got (CPPG_ETOOLARGE...), or 0.
int input_stream_error(PyObject* stream);

}  // namespace cppg::wsgi
