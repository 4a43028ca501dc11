// SPDX-License-Identifier: MIT
// The host table, the error log, and exceptions turned into text for it.
#include "python.hpp"

namespace cppg::wsgi {

namespace {

const cppg_host_t* the_host = nullptr;

// str(obj) as UTF-8 (unencodable characters escaped), or "" when even that fails.
std::string text_of(PyObject* obj) {
    Ref str(PyObject_Str(obj));
    Ref bytes(str ? PyUnicode_AsEncodedString(str.get(), "utf-8", "backslashreplace") : nullptr);
    if (!bytes) {
        PyErr_Clear();
        return {};
    }
    return std::string(PyBytes_AS_STRING(bytes.get()), static_cast<size_t>(PyBytes_GET_SIZE(bytes.get())));
}

// The exception being raised, normalised, with its traceback attached; clears it.
Ref take_exception() {
    PyObject *type = nullptr, *value = nullptr, *tb = nullptr;
    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    if (value != nullptr && tb != nullptr) PyException_SetTraceback(value, tb);
    Py_XDECREF(type);
    Py_XDECREF(tb);
    return Ref(value);
}

std::string trimmed(std::string text) {
    while (!text.empty() && text.back() == '\n') text.pop_back();
    return text;
}

// traceback.format_exception(value) or format_exception_only(value), joined.
std::string formatted(PyObject* value, const char* function) {
    Ref module(PyImport_ImportModule("traceback"));
    Ref format(module ? PyObject_GetAttrString(module.get(), function) : nullptr);
    Ref lines(format ? PyObject_CallOneArg(format.get(), value) : nullptr);
    Ref empty(PyUnicode_FromString(""));
    Ref joined(lines && empty ? PyUnicode_Join(empty.get(), lines.get()) : nullptr);
    if (!joined) {
        PyErr_Clear();
        return text_of(reinterpret_cast<PyObject*>(Py_TYPE(value))) + ": " + text_of(value);
    }
    return trimmed(text_of(joined.get()));
}

}  // namespace

const cppg_host_t* host() { return the_host; }
void set_host(const cppg_host_t* host) { the_host = host; }

void log(cppg_log_level_t level, std::string_view message) {
    if (the_host != nullptr) the_host->log(level, message.data(), message.size());
}

std::string take_traceback() {
    Ref value = take_exception();
    return value ? formatted(value.get(), "format_exception") : "(no exception)";
}

std::string take_exception_line() {
    Ref value = take_exception();
    return value ? formatted(value.get(), "format_exception_only") : "(no exception)";
}

}  // namespace cppg::wsgi
