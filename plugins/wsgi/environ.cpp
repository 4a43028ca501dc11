// SPDX-License-Identifier: MIT
#include "environ.hpp"

#include <cstdlib>

#ifndef CPPG_SERVER_SOFTWARE
#define CPPG_SERVER_SOFTWARE "cppgunicorn"
#endif

namespace cppg::wsgi {

namespace {

// Interned once: every environ uses the same key objects (and their cached hashes).
struct Keys {
    PyObject *request_method, *script_name, *path_info, *query_string, *raw_uri, *server_name, *server_port,
        *server_protocol, *remote_addr, *remote_port, *request_id, *url_scheme, *input, *errors, *http, *https,
        *comma;
};
Keys keys;

bool intern(PyObject*& out, const char* text) {
    out = PyUnicode_InternFromString(text);
    return out != nullptr;
}

bool intern_keys() {
    return intern(keys.request_method, "REQUEST_METHOD") && intern(keys.script_name, "SCRIPT_NAME") &&
           intern(keys.path_info, "PATH_INFO") && intern(keys.query_string, "QUERY_STRING") &&
           intern(keys.raw_uri, "RAW_URI") && intern(keys.server_name, "SERVER_NAME") &&
           intern(keys.server_port, "SERVER_PORT") && intern(keys.server_protocol, "SERVER_PROTOCOL") &&
           intern(keys.remote_addr, "REMOTE_ADDR") && intern(keys.remote_port, "REMOTE_PORT") &&
           intern(keys.request_id, "REQUEST_ID") && intern(keys.url_scheme, "wsgi.url_scheme") &&
           intern(keys.input, "wsgi.input") && intern(keys.errors, "wsgi.errors") && intern(keys.http, "http") &&
           intern(keys.https, "https") && intern(keys.comma, ",");
}

// Headers' keys cached for the names clients send; a client inventing names cannot grow it.
constexpr size_t kHeaderKeyCache = 256;

std::string_view get(cppg_request_t* req, const char* key) {
    cppg_str_t out{};
    if (host()->environ_get(req, key, &out) != 0 || out.ptr == nullptr) return {};
    return {out.ptr, out.len};
}

bool has(cppg_request_t* req, const char* key) {
    cppg_str_t out{};
    return host()->environ_get(req, key, &out) == 0;
}

bool put(PyObject* environ, PyObject* key, std::string_view value) {
    Ref text(PyUnicode_DecodeLatin1(value.data(), static_cast<Py_ssize_t>(value.size()), nullptr));
    return text && PyDict_SetItem(environ, key, text.get()) == 0;
}

bool put_bool(PyObject* environ, const char* key, bool value) {
    return PyDict_SetItemString(environ, key, value ? Py_True : Py_False) == 0;
}

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i)
        if ((a[i] | 0x20) != (b[i] | 0x20)) return false;
    return true;
}

int64_t parse_length(std::string_view text) {
    if (text.empty() || text.size() > 18) return -1;
    int64_t n = 0;
    for (char c : text) {
        if (c < '0' || c > '9') return -1;
        n = n * 10 + (c - '0');
    }
    return n;
}

}  // namespace

bool EnvironBuilder::init(const Options& options, PyObject* file_wrapper) {
    if (!intern_keys()) return false;
    if (const char* s = std::getenv("SCRIPT_NAME")) script_name_ = s;
    while (!script_name_.empty() && script_name_.back() == '/') script_name_.pop_back();
    base_.reset(PyDict_New());
    Ref version(Py_BuildValue("(ii)", 1, 0));
    Ref software(PyUnicode_FromString(CPPG_SERVER_SOFTWARE));
    return base_ && version && software && PyDict_SetItemString(base_.get(), "wsgi.version", version.get()) == 0 &&
           put_bool(base_.get(), "wsgi.multithread", options.threads > 1) &&
           put_bool(base_.get(), "wsgi.multiprocess", options.workers > 1) &&
           put_bool(base_.get(), "wsgi.run_once", false) && put_bool(base_.get(), "wsgi.input_terminated", true) &&
           PyDict_SetItemString(base_.get(), "wsgi.file_wrapper", file_wrapper) == 0 &&
           PyDict_SetItemString(base_.get(), "SERVER_SOFTWARE", software.get()) == 0 &&
           put(base_.get(), keys.script_name, script_name_);
}

RequestFacts EnvironBuilder::facts(cppg_request_t* req) const {
    RequestFacts f;
    f.request_id = get(req, "REQUEST_ID");
    f.method = get(req, "REQUEST_METHOD");
    f.target = get(req, "RAW_URI");
    if (has(req, "CONTENT_LENGTH")) f.content_length = parse_length(get(req, "CONTENT_LENGTH"));
    return f;
}

PyObject* EnvironBuilder::build(cppg_request_t* req, const RequestFacts& f, PyObject* input, PyObject* errors) {
    Ref environ(PyDict_Copy(base_.get()));
    if (!environ) return nullptr;
    PyObject* e = environ.get();
    std::string_view path = get(req, "PATH_INFO");
    if (!script_name_.empty() && path.starts_with(script_name_) &&
        (path.size() == script_name_.size() || path[script_name_.size()] == '/'))
        path.remove_prefix(script_name_.size());
    bool ok = put(e, keys.request_method, f.method) && put(e, keys.path_info, path) &&
              put(e, keys.query_string, get(req, "QUERY_STRING")) && put(e, keys.raw_uri, f.target) &&
              put(e, keys.server_name, get(req, "SERVER_NAME")) && put(e, keys.server_port, get(req, "SERVER_PORT")) &&
              put(e, keys.server_protocol, get(req, "SERVER_PROTOCOL")) &&
              put(e, keys.remote_addr, get(req, "REMOTE_ADDR")) && put(e, keys.request_id, f.request_id) &&
              PyDict_SetItem(e, keys.url_scheme, get(req, "URL_SCHEME") == "https" ? keys.https : keys.http) == 0 &&
              PyDict_SetItem(e, keys.input, input) == 0 && PyDict_SetItem(e, keys.errors, errors) == 0;
    if (ok && has(req, "REMOTE_PORT")) ok = put(e, keys.remote_port, get(req, "REMOTE_PORT"));
    if (!ok || !add_headers(req, e)) return nullptr;
    return environ.release();
}

// HTTP_<NAME> for each header, as gunicorn names them; Content-Type and Content-Length as
// CONTENT_TYPE and CONTENT_LENGTH. A name with '_' would be ambiguous with its '-' twin
// (a proxy's X-Auth-User spoofed as X_Auth_User): dropped.
bool EnvironBuilder::add_headers(cppg_request_t* req, PyObject* environ) {
    size_t count = host()->header_count(req);
    for (size_t i = 0; i < count; ++i) {
        cppg_header_t h{};
        if (host()->header_at(req, i, &h) != 0) continue;
        std::string_view name(h.name.ptr, h.name.len), value(h.value.ptr, h.value.len);
        if (name.find('_') != std::string_view::npos) continue;
        Ref key(header_key(name));
        Ref text(PyUnicode_DecodeLatin1(value.data(), static_cast<Py_ssize_t>(value.size()), nullptr));
        if (!key || !text) return false;
        bool joinable = !iequals(name, "content-type") && !iequals(name, "content-length");
        PyObject* earlier = joinable ? PyDict_GetItemWithError(environ, key.get()) : nullptr;  // borrowed
        if (earlier == nullptr && PyErr_Occurred()) return false;
        if (earlier != nullptr) {
            Ref with_comma(PyUnicode_Concat(earlier, keys.comma));
            text.reset(with_comma ? PyUnicode_Concat(with_comma.get(), text.get()) : nullptr);
            if (!text) return false;
        }
        if (PyDict_SetItem(environ, key.get(), text.get()) != 0) return false;
    }
    return true;
}

PyObject* EnvironBuilder::header_key(std::string_view name) {
    std::string raw(name);
    if (auto it = header_keys_.find(raw); it != header_keys_.end()) return Py_NewRef(it->second.get());
    std::string key;
    if (iequals(name, "content-type")) {
        key = "CONTENT_TYPE";
    } else if (iequals(name, "content-length")) {
        key = "CONTENT_LENGTH";
    } else {
        key = "HTTP_";
        for (char c : name) key += c == '-' ? '_' : (c >= 'a' && c <= 'z') ? static_cast<char>(c - 32) : c;
    }
    PyObject* text = PyUnicode_DecodeLatin1(key.data(), static_cast<Py_ssize_t>(key.size()), nullptr);
    if (text == nullptr) return nullptr;
    PyUnicode_InternInPlace(&text);
    if (header_keys_.size() < kHeaderKeyCache) header_keys_.emplace(std::move(raw), Ref::borrow(text));
    return text;
}

}  // namespace cppg::wsgi
