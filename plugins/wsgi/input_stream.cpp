// SPDX-License-Identifier: MIT
#include "input_stream.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <new>
#include <string>

#include "cppgunicorn_module.hpp"

namespace cppg::wsgi {

namespace {

// What one host read asks for when the stream reads ahead (readline, read() of a chunked
// body): big enough that a large upload takes few GIL round trips.
constexpr size_t kReadAhead = 64 << 10;
// The largest read() result allocated before its bytes arrived.
constexpr size_t kAllocateAhead = 4 << 20;

struct InputStream {
    PyObject_HEAD
    cppg_request_t* req;
    int64_t unread;       // body bytes the host still has to deliver, -1 when unknown
    std::string buffer;   // read ahead by readline, not yet returned
    size_t pos;           // first byte of buffer not yet returned
    bool eof;
    bool busy;            // a host read is in progress (GIL released)
    int error;            // the host's error, once one happened
};

InputStream* as_stream(PyObject* o) { return reinterpret_cast<InputStream*>(o); }

size_t buffered(const InputStream* s) { return s->buffer.size() - s->pos; }

// BodyError(errno, text) with .status set to what the server answers.
void raise_body_error(int code) {
    int errno_value = EIO, status = 400;
    switch (code) {
        case CPPG_ETOOLARGE: errno_value = EFBIG, status = 413; break;
        case CPPG_ETIMEDOUT: errno_value = ETIMEDOUT, status = 408; break;
        case CPPG_EBODY: errno_value = EBADMSG, status = 400; break;
        case CPPG_ECLOSED: errno_value = ECONNRESET, status = 400; break;
        default: break;
    }
    PyObject* type = module_parts() ? module_parts()->body_error.get() : PyExc_OSError;
    Ref exc(PyObject_CallFunction(type, "is", errno_value, host()->strerror(code)));
    Ref code_obj(PyLong_FromLong(status));
    if (!exc || !code_obj || PyObject_SetAttrString(exc.get(), "status", code_obj.get()) != 0) return;
    PyErr_SetObject(type, exc.get());
}

// Up to len bytes of body from the host into dst, without the GIL: > 0, 0 at the end of
// the body, or -1 with a Python error set.
Py_ssize_t pull(InputStream* s, char* dst, size_t len) {
    if (s->error != 0) return raise_body_error(s->error), -1;
    if (s->eof || len == 0) return 0;
    if (s->req == nullptr) {
        PyErr_SetString(PyExc_ValueError, "wsgi.input read after its request ended");
        return -1;
    }
    if (s->busy) {
        PyErr_SetString(PyExc_RuntimeError, "wsgi.input is being read by another thread");
        return -1;
    }
    s->busy = true;
    ptrdiff_t n;
    {
        WithoutGil released;
        n = host()->read(s->req, dst, len);
    }
    s->busy = false;
    if (n < 0) {
        s->error = static_cast<int>(n);
        raise_body_error(s->error);
        return -1;
    }
    if (n == 0) s->eof = true;
    if (s->unread > 0) s->unread -= std::min<int64_t>(s->unread, n);
    if (s->unread == 0) s->eof = true;
    return n;
}

// Reads ahead into the buffer; returns what pull returns.
Py_ssize_t fill(InputStream* s) {
    if (s->pos > 0 && s->pos >= s->buffer.size() / 2) {
        s->buffer.erase(0, s->pos);
        s->pos = 0;
    }
    size_t old = s->buffer.size();
    size_t want = kReadAhead;
    if (s->unread > 0) want = std::min<size_t>(want, static_cast<size_t>(s->unread));
    s->buffer.resize(old + want);
    Py_ssize_t n = pull(s, s->buffer.data() + old, want);
    s->buffer.resize(old + static_cast<size_t>(std::max<Py_ssize_t>(n, 0)));
    return n;
}

PyObject* take_buffered(InputStream* s, size_t n) {
    PyObject* out = PyBytes_FromStringAndSize(s->buffer.data() + s->pos, static_cast<Py_ssize_t>(n));
    if (out) s->pos += n;
    return out;
}

// An optional size argument: None or negative means "all".
bool size_arg(PyObject* const* args, Py_ssize_t nargs, const char* fn, Py_ssize_t& size) {
    size = -1;
    if (nargs > 1) return PyErr_Format(PyExc_TypeError, "%s() takes at most 1 argument", fn), false;
    if (nargs == 0 || args[0] == Py_None) return true;
    if (!PyIndex_Check(args[0]))
        return PyErr_Format(PyExc_TypeError, "%s() argument must be int or None, not %.100s", fn,
                            Py_TYPE(args[0])->tp_name), false;
    size = PyNumber_AsSsize_t(args[0], PyExc_OverflowError);
    return !(size == -1 && PyErr_Occurred());
}

// How many bytes read(n) will return when the body's length is known.
size_t known_total(const InputStream* s, size_t n) {
    size_t from_buffer = std::min(n, buffered(s));
    return from_buffer + std::min<size_t>(n - from_buffer, s->eof ? 0 : static_cast<size_t>(s->unread));
}

// read(n) when the body's length is known: straight into the bytes object, one copy.
PyObject* read_known(InputStream* s, size_t n) {
    size_t from_buffer = std::min(n, buffered(s));
    size_t total = known_total(s, n);
    Ref out(PyBytes_FromStringAndSize(nullptr, static_cast<Py_ssize_t>(total)));
    if (!out) return nullptr;
    char* dst = PyBytes_AS_STRING(out.get());
    std::copy_n(s->buffer.data() + s->pos, from_buffer, dst);
    s->pos += from_buffer;
    size_t got = from_buffer;
    while (got < total) {
        Py_ssize_t r = pull(s, dst + got, total - got);
        if (r < 0) return nullptr;
        if (r == 0) break;
        got += static_cast<size_t>(r);
    }
    if (got == total) return out.release();
    PyObject* shorter = out.release();
    return _PyBytes_Resize(&shorter, static_cast<Py_ssize_t>(got)) == 0 ? shorter : nullptr;
}

// read(n) of a body of unknown length (chunked): read ahead until n bytes or the end.
PyObject* read_unknown(InputStream* s, size_t n) {
    while (buffered(s) < n && !s->eof) {
        Py_ssize_t r = fill(s);
        if (r < 0) return nullptr;
        if (r == 0) break;
    }
    return take_buffered(s, std::min(n, buffered(s)));
}

PyObject* read(PyObject* self, PyObject* const* args, Py_ssize_t nargs) {
    InputStream* s = as_stream(self);
    Py_ssize_t size;
    if (!size_arg(args, nargs, "read", size)) return nullptr;
    size_t n = size < 0 ? SIZE_MAX : static_cast<size_t>(size);
    if (n == 0) return PyBytes_FromStringAndSize(nullptr, 0);
    // Up to kAllocateAhead the result is allocated at once; beyond, it grows with the bytes
    // that arrive, so a Content-Length alone (no body yet) cannot make the worker reserve
    // a gigabyte.
    if ((s->unread >= 0 || s->eof) && known_total(s, n) <= kAllocateAhead) return read_known(s, n);
    return read_unknown(s, n);
}

// One line, '\n' included, of at most limit bytes (SIZE_MAX: no limit).
PyObject* read_line(InputStream* s, size_t limit) {
    size_t scanned = 0;
    for (;;) {
        const char* start = s->buffer.data() + s->pos;
        size_t have = std::min(buffered(s), limit);
        const void* nl = have > scanned ? std::memchr(start + scanned, '\n', have - scanned) : nullptr;
        if (nl != nullptr) return take_buffered(s, static_cast<size_t>(static_cast<const char*>(nl) - start) + 1);
        if (have == limit || s->eof) return take_buffered(s, have);
        scanned = have;
        Py_ssize_t r = fill(s);
        if (r < 0) return nullptr;
    }
}

PyObject* readline(PyObject* self, PyObject* const* args, Py_ssize_t nargs) {
    Py_ssize_t size;
    if (!size_arg(args, nargs, "readline", size)) return nullptr;
    if (size == 0) return PyBytes_FromStringAndSize(nullptr, 0);
    return read_line(as_stream(self), size < 0 ? SIZE_MAX : static_cast<size_t>(size));
}

PyObject* readlines(PyObject* self, PyObject* const* args, Py_ssize_t nargs) {
    Py_ssize_t hint;
    if (!size_arg(args, nargs, "readlines", hint)) return nullptr;
    Ref lines(PyList_New(0));
    if (!lines) return nullptr;
    size_t total = 0;
    for (;;) {
        Ref line(read_line(as_stream(self), SIZE_MAX));
        if (!line) return nullptr;
        if (PyBytes_GET_SIZE(line.get()) == 0) break;
        total += static_cast<size_t>(PyBytes_GET_SIZE(line.get()));
        if (PyList_Append(lines.get(), line.get()) != 0) return nullptr;
        if (hint > 0 && total >= static_cast<size_t>(hint)) break;
    }
    return lines.release();
}

PyObject* next_line(PyObject* self) {
    PyObject* line = read_line(as_stream(self), SIZE_MAX);
    if (line != nullptr && PyBytes_GET_SIZE(line) == 0) {
        Py_DECREF(line);
        return nullptr;  // StopIteration
    }
    return line;
}

PyObject* readable(PyObject*, PyObject*) { Py_RETURN_TRUE; }
PyObject* close(PyObject*, PyObject*) { Py_RETURN_NONE; }  // the server owns the body

void dealloc(PyObject* self) {
    as_stream(self)->buffer.~basic_string();
    PyObject_Free(self);
}

PyMethodDef kMethods[] = {
    {"read", as_method(read), METH_FASTCALL, "read([size]): at most size bytes; all that is left without one."},
    {"readline", as_method(readline), METH_FASTCALL, "readline([size]): one line, '\\n' included, at most size bytes."},
    {"readlines", as_method(readlines), METH_FASTCALL, "readlines([hint]): the lines left, stopping once hint bytes are read."},
    {"readable", readable, METH_NOARGS, "True."},
    {"close", close, METH_NOARGS, "Does nothing: the server owns the request body."},
    {nullptr, nullptr, 0, nullptr},
};

PyTypeObject kType = [] {
    PyTypeObject t = blank_type("cppgunicorn.InputStream", sizeof(InputStream));
    t.tp_dealloc = dealloc;
    t.tp_doc = "wsgi.input: the request body.";
    t.tp_iter = PyObject_SelfIter;
    t.tp_iternext = next_line;
    t.tp_methods = kMethods;
    return t;
}();

}  // namespace

bool ready_input_stream_type() { return PyType_Ready(&kType) == 0; }

PyObject* new_input_stream(cppg_request_t* req, int64_t content_length) {
    InputStream* s = PyObject_New(InputStream, &kType);
    if (s == nullptr) return nullptr;
    s->req = req;
    s->unread = content_length;
    new (&s->buffer) std::string();
    s->pos = 0;
    s->eof = content_length == 0;
    s->busy = false;
    s->error = 0;
    return reinterpret_cast<PyObject*>(s);
}

void end_input_stream(PyObject* stream) {
    InputStream* s = as_stream(stream);
    while (s->busy) {
        WithoutGil released;
        usleep(1000);
    }
    s->req = nullptr;
}

int input_stream_error(PyObject* stream) { return as_stream(stream)->error; }

}  // namespace cppg::wsgi
