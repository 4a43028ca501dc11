// SPDX-License-Identifier: MIT
#include "errors_stream.hpp"

#include <new>
#include <string>

namespace cppg::wsgi {

namespace {

struct ErrorsStream {
    PyObject_HEAD
    std::string prefix;   // "[request id] "
    std::string partial;  // a line not yet ended
};

ErrorsStream* as_stream(PyObject* o) { return reinterpret_cast<ErrorsStream*>(o); }

void emit_lines(ErrorsStream* s, std::string_view text) {
    while (!text.empty()) {
        size_t nl = text.find('\n');
        if (nl == std::string_view::npos) {
            s->partial.append(text);
            return;
        }
        std::string line = s->prefix;
        line += s->partial;
        line.append(text.substr(0, nl));
        s->partial.clear();
        log(CPPG_LOG_ERROR, line);
        text.remove_prefix(nl + 1);
    }
}

void flush_partial(ErrorsStream* s) {
    if (s->partial.empty()) return;
    log(CPPG_LOG_ERROR, s->prefix + s->partial);
    s->partial.clear();
}

bool write_one(ErrorsStream* s, PyObject* text) {
    if (!PyUnicode_Check(text)) {
        PyErr_Format(PyExc_TypeError, "wsgi.errors.write() needs a str, not %.100s", Py_TYPE(text)->tp_name);
        return false;
    }
    Py_ssize_t len = 0;
    const char* utf8 = PyUnicode_AsUTF8AndSize(text, &len);
    if (utf8 == nullptr) {  // lone surrogates: log them escaped rather than lose the line
        PyErr_Clear();
        Ref bytes(PyUnicode_AsEncodedString(text, "utf-8", "backslashreplace"));
        if (!bytes) return false;
        emit_lines(s, std::string_view(PyBytes_AS_STRING(bytes.get()), static_cast<size_t>(PyBytes_GET_SIZE(bytes.get()))));
        return true;
    }
    emit_lines(s, std::string_view(utf8, static_cast<size_t>(len)));
    return true;
}

PyObject* write(PyObject* self, PyObject* text) {
    if (!write_one(as_stream(self), text)) return nullptr;
    return PyLong_FromSsize_t(PyUnicode_GET_LENGTH(text));
}

PyObject* writelines(PyObject* self, PyObject* lines) {
    Ref it(PyObject_GetIter(lines));
    if (!it) return nullptr;
    while (Ref line{PyIter_Next(it.get())})
        if (!write_one(as_stream(self), line.get())) return nullptr;
    if (PyErr_Occurred()) return nullptr;
    Py_RETURN_NONE;
}

PyObject* flush(PyObject* self, PyObject*) {
    flush_partial(as_stream(self));
    Py_RETURN_NONE;
}

PyObject* writable(PyObject*, PyObject*) { Py_RETURN_TRUE; }

void dealloc(PyObject* self) {
    ErrorsStream* s = as_stream(self);
    flush_partial(s);
    s->prefix.~basic_string();
    s->partial.~basic_string();
    PyObject_Free(self);
}

PyMethodDef kMethods[] = {
    {"write", write, METH_O, "write(str): to the server's error log, a log line per line."},
    {"writelines", writelines, METH_O, "writelines(lines): write() each."},
    {"flush", flush, METH_NOARGS, "Logs a line not yet ended by '\\n'."},
    {"writable", writable, METH_NOARGS, "True."},
    {nullptr, nullptr, 0, nullptr},
};

PyTypeObject kType = [] {
    PyTypeObject t = blank_type("cppgunicorn.ErrorsStream", sizeof(ErrorsStream));
    t.tp_dealloc = dealloc;
    t.tp_doc = "wsgi.errors: the server's error log, each line prefixed with the request id.";
    t.tp_methods = kMethods;
    return t;
}();

}  // namespace

bool ready_errors_stream_type() { return PyType_Ready(&kType) == 0; }

PyObject* new_errors_stream(std::string_view request_id) {
    ErrorsStream* s = PyObject_New(ErrorsStream, &kType);
    if (s == nullptr) return nullptr;
    new (&s->prefix) std::string();
    new (&s->partial) std::string();
    s->prefix.reserve(request_id.size() + 3);
    s->prefix += '[';
    s->prefix += request_id;
    s->prefix += "] ";
    return reinterpret_cast<PyObject*>(s);
}

}  // namespace cppg::wsgi
