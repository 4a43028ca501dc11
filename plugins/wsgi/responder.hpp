// SPDX-License-Identifier: MIT
// The response side of one request: start_response (the Python object itself is the
// callable), the write() it returns, and the body the bridge sends for the app.
//
// start_response only records the status and headers (checked as PEP 3333 asks); they are
// committed with the first non-empty body chunk, or at the end. Until then exc_info may
// replace them; after, start_response re-raises exc_info. Small chunks are gathered (under
// the GIL) and handed to the host in larger writes with the GIL released, since a host
// write may wait for a slow client. A declared Content-Length is never exceeded (the
// excess is cut and logged once).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "python.hpp"

namespace cppg::wsgi {

// The response of one request, as far as the app has given it.
struct Response {
    cppg_request_t* req = nullptr;
    bool started = false;       // start_response was called
    bool committed = false;     // a non-empty chunk was produced: the headers are final
    bool host_started = false;  // the host has the headers
    std::string status;
    std::vector<std::pair<std::string, std::string>> headers;
    std::optional<uint64_t> content_length;
    uint64_t sent = 0;          // body bytes accepted, within content_length
    bool overflow_logged = false;
    std::string pending;        // gathered small chunks, not yet given to the host
    int error = 0;              // the host error that ended the output (CPPG_ECLOSED...)

    int status_code() const;
};

bool ready_responder_type();

PyObject* new_responder(cppg_request_t* req);

// The Response inside a responder object (GIL held).
Response& response_of(PyObject* responder);

// One body chunk for the responder's Response (GIL held; released while the host writes).
// 0, or the host's error.
int send_chunk(PyObject* responder, std::string_view data);

// Hands the headers (if not yet) and gathered bytes to the host, then `extra`. Without the
// GIL, on a Response no Python code can reach (see take_response).
int flush_response(Response& r, std::string_view extra = {});

// Everything produced so far goes to the client now (the host's flush), not when 64 KiB
// have gathered or the response ends: PEP 3333 wants each chunk of an iterable sent before
// the next is asked for. GIL held; released while the host writes. 0, or the host's error.
int send_now(PyObject* responder);

// Sends len bytes of the regular file fd from offset with the host's send_file (sendfile),
// after what is gathered; the headers are committed. GIL held; released while the host
// sends. 0, or the host's error.
int send_file(PyObject* responder, int fd, uint64_t offset, uint64_t len);

// Moves the response out of the object at the end of the request (GIL held): the object's
// write() and start_response raise from then on, so the caller may finish it without the
// GIL. Waits (without the GIL) for a write that another thread has in progress.
Response take_response(PyObject* responder);

}  // namespace cppg::wsgi
