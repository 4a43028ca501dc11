// SPDX-License-Identifier: MIT
// The WSGI environ of a request, a plain dict built as gunicorn 20.1 builds it: CGI
// variables from the host (REQUEST_METHOD, PATH_INFO percent-decoded as latin-1, raw
// QUERY_STRING, RAW_URI, SERVER_*, REMOTE_ADDR/PORT...), HTTP_* from every header (names
// with '_' dropped, repeats joined with ','), SCRIPT_NAME from the process environment
// (stripped from the path), REQUEST_ID, and the wsgi.* keys.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>

#include "options.hpp"
#include "python.hpp"

namespace cppg::wsgi {

// What the bridge itself needs to know of a request: views into the host's memory, valid
// until handle returns.
struct RequestFacts {
    std::string_view request_id;
    std::string_view method;
    std::string_view target;      // RAW_URI
    int64_t content_length = -1;  // -1: chunked, or no body
};

class EnvironBuilder {
public:
    // GIL held; false with a Python error set on failure.
    bool init(const Options& options, PyObject* file_wrapper);

    // The request's facts, for the log lines and wsgi.input, before the environ exists.
    RequestFacts facts(cppg_request_t* req) const;

    // A new environ dict; nullptr with a Python error set on failure. GIL held.
    PyObject* build(cppg_request_t* req, const RequestFacts& facts, PyObject* input, PyObject* errors);

private:
    bool add_headers(cppg_request_t* req, PyObject* environ);
    PyObject* header_key(std::string_view name);

    Ref base_;  // the keys every request has the same value for
    std::string script_name_;
    std::unordered_map<std::string, Ref> header_keys_;  // "User-Agent" -> "HTTP_USER_AGENT"
};

}  // namespace cppg::wsgi
