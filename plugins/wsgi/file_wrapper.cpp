// SPDX-License-Identifier: MIT
#include "file_wrapper.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "responder.hpp"

namespace cppg::wsgi {

bool send_file_wrapper(PyObject* responder, PyObject* result, PyObject* file_wrapper_type, int& rc) {
    const Response& r = response_of(responder);
    const cppg_host_t* h = host();
    if (!r.started || !r.content_length || h->struct_size < offsetof(cppg_host_t, send_file) + sizeof(void*) ||
        h->send_file == nullptr)
        return false;
    int is_wrapper = PyObject_IsInstance(result, file_wrapper_type);
    if (is_wrapper < 0) PyErr_Clear();
    if (is_wrapper != 1) return false;
    Ref filelike(PyObject_GetAttrString(result, "filelike"));
    Ref fileno(filelike ? PyObject_CallMethod(filelike.get(), "fileno", nullptr) : nullptr);
    long fd = fileno ? PyLong_AsLong(fileno.get()) : -1;
    struct stat st {};
    if (fd < 0 || fd > INT32_MAX || ::fstat(static_cast<int>(fd), &st) != 0 || !S_ISREG(st.st_mode)) {
        PyErr_Clear();
        return false;
    }
    Ref position(PyObject_CallMethod(filelike.get(), "tell", nullptr));
    long long offset = position ? PyLong_AsLongLong(position.get()) : -1;
    if (offset < 0) {
        PyErr_Clear();
        offset = ::lseek(static_cast<int>(fd), 0, SEEK_CUR);
        if (offset < 0) return false;
    }
    uint64_t size = static_cast<uint64_t>(st.st_size), start = static_cast<uint64_t>(offset);
    uint64_t available = size > start ? size - start : 0;
    uint64_t len = std::min(*r.content_length - r.sent, available);
    // A file shorter than its Content-Length leaves the response short: the host closes.
    rc = send_file(responder, static_cast<int>(fd), start, len);
    return true;
}

}  // namespace cppg::wsgi
