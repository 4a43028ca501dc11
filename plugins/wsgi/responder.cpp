// SPDX-License-Identifier: MIT
#include "responder.hpp"

#include <unistd.h>

#include <algorithm>
#include <new>

namespace cppg::wsgi {

namespace {

// Chunks smaller than this are gathered under the GIL instead of each costing a release.
constexpr size_t kGather = 32 << 10;

struct Responder {
    PyObject_HEAD
    Response response;
    bool ended;  // the request is over: start_response and write() raise
    bool busy;   // a host write is in progress with the GIL released
};

Responder* as_responder(PyObject* o) { return reinterpret_cast<Responder*>(o); }

bool is_tchar(unsigned char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
}

bool is_field_text(std::string_view value) {
    return std::none_of(value.begin(), value.end(), [](char ch) {
        auto c = static_cast<unsigned char>(ch);
        return (c < 0x20 && c != '\t') || c == 0x7f;
    });
}

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return (x | 0x20) == (y | 0x20);
           });
}

// Connection management belongs to the server (PEP 3333 forbids apps these headers);
// gunicorn drops them, and Server and Date, which the server sets itself. "Connection:
// close" is kept: the host honours it.
bool dropped_header(std::string_view name, std::string_view value) {
    static constexpr std::string_view kDropped[] = {"keep-alive", "proxy-authenticate", "proxy-authorization", "te",
                                                    "trailers", "transfer-encoding", "upgrade", "server", "date"};
    if (iequals(name, "connection")) return !iequals(value, "close");
    return std::any_of(std::begin(kDropped), std::end(kDropped), [&](std::string_view d) { return iequals(name, d); });
}

std::string_view strip(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

// A native string (str) as latin-1 bytes, as PEP 3333 requires of status and headers.
bool latin1(PyObject* obj, const char* what, std::string& out) {
    if (!PyUnicode_Check(obj)) {
        PyErr_Format(PyExc_TypeError, "%s must be a str, not %.100s", what, Py_TYPE(obj)->tp_name);
        return false;
    }
    Ref bytes(PyUnicode_AsLatin1String(obj));
    if (!bytes) return false;
    out.assign(PyBytes_AS_STRING(bytes.get()), static_cast<size_t>(PyBytes_GET_SIZE(bytes.get())));
    return true;
}

bool parse_status(PyObject* obj, std::string& status) {
    if (!latin1(obj, "status", status)) return false;
    bool ok = status.size() >= 3 && std::all_of(status.begin(), status.begin() + 3, [](char c) { return c >= '0' && c <= '9'; }) &&
              (status.size() == 3 || status[3] == ' ') && is_field_text(status) && status.find('\t') == std::string::npos;
    if (!ok) PyErr_Format(PyExc_ValueError, "invalid status %R (expected e.g. '200 OK')", obj);
    return ok;
}

bool parse_length(std::string_view value, std::optional<uint64_t>& length) {
    uint64_t n = 0;
    if (value.empty() || value.size() > 19) return false;
    for (char c : value) {
        if (c < '0' || c > '9') return false;
        n = n * 10 + static_cast<uint64_t>(c - '0');
    }
    if (length && *length != n) return false;
    length = n;
    return true;
}

bool parse_headers(PyObject* obj, Response& r) {
    Ref list(PySequence_Fast(obj, "headers must be a list of (name, value) tuples"));
    if (!list) return false;
    r.headers.clear();
    r.content_length.reset();
    Py_ssize_t n = PySequence_Fast_GET_SIZE(list.get());
    r.headers.reserve(static_cast<size_t>(n));
    for (Py_ssize_t i = 0; i < n; ++i) {
        PyObject* item = PySequence_Fast_GET_ITEM(list.get(), i);
        if (!PyTuple_Check(item) || PyTuple_GET_SIZE(item) != 2) {
            PyErr_Format(PyExc_TypeError, "each header must be a (name, value) tuple, not %R", item);
            return false;
        }
        std::string name, value;
        if (!latin1(PyTuple_GET_ITEM(item, 0), "header name", name) ||
            !latin1(PyTuple_GET_ITEM(item, 1), "header value", value))
            return false;
        if (name.empty() || !std::all_of(name.begin(), name.end(), [](char c) { return is_tchar(static_cast<unsigned char>(c)); })) {
            PyErr_Format(PyExc_ValueError, "invalid header name %R", PyTuple_GET_ITEM(item, 0));
            return false;
        }
        std::string_view stripped = strip(value);
        if (!is_field_text(stripped)) {
            PyErr_Format(PyExc_ValueError, "invalid header value %R (control characters)", PyTuple_GET_ITEM(item, 1));
            return false;
        }
        if (iequals(name, "content-length")) {
            bool repeated = r.content_length.has_value();
            if (!parse_length(stripped, r.content_length)) {
                PyErr_Format(PyExc_ValueError, "invalid or conflicting Content-Length %R", PyTuple_GET_ITEM(item, 1));
                return false;
            }
            if (repeated) continue;
        }
        if (dropped_header(name, stripped)) continue;
        r.headers.emplace_back(std::move(name), std::string(stripped));
    }
    return true;
}

PyObject* write(PyObject* self, PyObject* data);

PyMethodDef kWriteDef = {"write", write, METH_O, "write(bytes): the response body, before the returned iterable."};

// start_response(status, headers, exc_info=None) -> write
PyObject* start_response(PyObject* self, PyObject* args, PyObject* kwargs) {
    static const char* kKeywords[] = {"status", "headers", "exc_info", nullptr};
    PyObject *status = nullptr, *headers = nullptr, *exc_info = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OO|O:start_response", const_cast<char**>(kKeywords), &status,
                                     &headers, &exc_info))
        return nullptr;
    Responder* rs = as_responder(self);
    Response& r = rs->response;
    if (rs->ended) return PyErr_Format(PyExc_RuntimeError, "start_response() called after its request ended");
    if (exc_info != Py_None) {
        if (r.committed) {  // too late to replace the headers: the app's error goes on up
            if (!PyTuple_Check(exc_info) || PyTuple_GET_SIZE(exc_info) != 3)
                return PyErr_Format(PyExc_TypeError, "exc_info must be a (type, value, traceback) tuple");
            PyObject* type = PyTuple_GET_ITEM(exc_info, 0);
            PyObject* value = PyTuple_GET_ITEM(exc_info, 1);
            PyObject* tb = PyTuple_GET_ITEM(exc_info, 2);
            Py_INCREF(type);
            Py_INCREF(value);
            if (tb == Py_None) tb = nullptr;
            Py_XINCREF(tb);
            PyErr_Restore(type, value, tb);
            return nullptr;
        }
    } else if (r.started) {
        PyErr_SetString(PyExc_AssertionError, "start_response() called a second time without exc_info");
        return nullptr;
    }
    std::string parsed_status;
    Response parsed;
    if (!parse_status(status, parsed_status) || !parse_headers(headers, parsed)) return nullptr;
    r.status = std::move(parsed_status);
    r.headers = std::move(parsed.headers);
    r.content_length = parsed.content_length;
    r.started = true;
    return PyCFunction_New(&kWriteDef, self);
}

PyObject* write(PyObject* self, PyObject* data) {
    Responder* rs = as_responder(self);
    if (rs->ended) return PyErr_Format(PyExc_RuntimeError, "write() called after its request ended");
    if (!rs->response.started) {
        PyErr_SetString(PyExc_AssertionError, "write() called before start_response()");
        return nullptr;
    }
    if (!PyBytes_Check(data)) return PyErr_Format(PyExc_TypeError, "write() needs bytes, not %.100s", Py_TYPE(data)->tp_name);
    if (rs->busy) return PyErr_Format(PyExc_RuntimeError, "write() called from two threads at once");
    int rc = send_chunk(self, {PyBytes_AS_STRING(data), static_cast<size_t>(PyBytes_GET_SIZE(data))});
    if (rc == CPPG_ECLOSED) return PyErr_Format(PyExc_ConnectionResetError, "the client went away");
    if (rc != 0) return PyErr_Format(PyExc_OSError, "cannot send the response: %s", host()->strerror(rc));
    Py_RETURN_NONE;
}

void dealloc(PyObject* self) {
    as_responder(self)->response.~Response();
    PyObject_Free(self);
}

PyTypeObject kType = [] {
    PyTypeObject t = blank_type("cppgunicorn.StartResponse", sizeof(Responder));
    t.tp_dealloc = dealloc;
    t.tp_call = start_response;
    t.tp_doc = "start_response(status, headers, exc_info=None) -> write";
    return t;
}();

int host_write(Response& r, std::string_view data) {
    if (data.empty()) return 0;
    int rc = host()->write(r.req, data.data(), data.size());
    if (rc != 0) r.error = rc;
    return rc;
}

}  // namespace

int Response::status_code() const {
    if (status.size() < 3) return 0;
    return (status[0] - '0') * 100 + (status[1] - '0') * 10 + (status[2] - '0');
}

bool ready_responder_type() { return PyType_Ready(&kType) == 0; }

PyObject* new_responder(cppg_request_t* req) {
    Responder* rs = PyObject_New(Responder, &kType);
    if (rs == nullptr) return nullptr;
    new (&rs->response) Response();
    rs->response.req = req;
    rs->ended = false;
    rs->busy = false;
    return reinterpret_cast<PyObject*>(rs);
}

Response& response_of(PyObject* responder) { return as_responder(responder)->response; }

int send_chunk(PyObject* responder, std::string_view data) {
    Responder* rs = as_responder(responder);
    Response& r = rs->response;
    if (r.error != 0) return r.error;
    if (data.empty()) return 0;
    r.committed = true;
    if (r.content_length) {
        uint64_t room = *r.content_length - r.sent;
        if (data.size() > room) {
            if (!r.overflow_logged)
                log(CPPG_LOG_WARNING, "app wrote more than its Content-Length of " + std::to_string(*r.content_length) +
                                          " bytes; the rest is dropped");
            r.overflow_logged = true;
            data = data.substr(0, room);
            if (data.empty()) return 0;
        }
    }
    r.sent += data.size();
    if (r.pending.size() + data.size() <= kGather) {
        r.pending.append(data);
        return 0;
    }
    rs->busy = true;
    int rc;
    {
        WithoutGil released;
        rc = flush_response(r, data);
    }
    rs->busy = false;
    return rc;
}

int flush_response(Response& r, std::string_view extra) {
    if (r.error != 0) return r.error;
    if (!r.host_started) {
        std::vector<cppg_header_t> fields;
        fields.reserve(r.headers.size());
        for (const auto& [name, value] : r.headers)
            fields.push_back({{name.data(), name.size()}, {value.data(), value.size()}});
        r.host_started = true;
        int rc = host()->start_response(r.req, r.status.c_str(), fields.data(), fields.size());
        if (rc != 0) return r.error = rc;
    }
    if (int rc = host_write(r, r.pending)) return rc;
    r.pending.clear();
    return host_write(r, extra);
}

int send_now(PyObject* responder) {
    Responder* rs = as_responder(responder);
    Response& r = rs->response;
    if (r.error != 0 || !r.committed) return r.error;
    bool has_flush = host()->struct_size >= offsetof(cppg_host_t, flush) + sizeof(void*);
    rs->busy = true;
    int rc;
    {
        WithoutGil released;
        rc = flush_response(r);
        if (rc == 0 && has_flush) {
            rc = host()->flush(r.req);
            if (rc != 0) r.error = rc;
        }
    }
    rs->busy = false;
    return rc;
}

int send_file(PyObject* responder, int fd, uint64_t offset, uint64_t len) {
    Responder* rs = as_responder(responder);
    Response& r = rs->response;
    if (r.error != 0) return r.error;
    r.committed = true;
    r.sent += len;
    rs->busy = true;
    int rc;
    {
        WithoutGil released;
        rc = flush_response(r);
        if (rc == 0 && len > 0) {
            rc = host()->send_file(r.req, fd, offset, len);
            if (rc != 0) r.error = rc;
        }
    }
    rs->busy = false;
    return rc;
}

Response take_response(PyObject* responder) {
    Responder* rs = as_responder(responder);
    while (rs->busy) {
        WithoutGil released;
        usleep(1000);
    }
    rs->ended = true;
    Response out = std::move(rs->response);
    rs->response = Response();
    return out;
}

}  // namespace cppg::wsgi
