// SPDX-License-Identifier: MIT
// Small helpers for the CPython C API: an owning reference, a scope that releases the GIL,
// and the host table every part of the bridge reports to.
#pragma once

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <cstring>
#include <string>
#include <string_view>
#include <utility>

#include "cppgunicorn/app.h"

namespace cppg::wsgi {

// One strong reference, released when it goes out of scope. Construct it from a new
// reference (what most API calls return); borrow() takes a borrowed one.
class Ref {
public:
    Ref() = default;
    explicit Ref(PyObject* owned) : obj_(owned) {}
    static Ref borrow(PyObject* borrowed) {
        Py_XINCREF(borrowed);
        return Ref(borrowed);
    }
    Ref(Ref&& other) noexcept : obj_(std::exchange(other.obj_, nullptr)) {}
    Ref& operator=(Ref&& other) noexcept {
        reset(other.release());
        return *this;
    }
    Ref(const Ref&) = delete;
    Ref& operator=(const Ref&) = delete;
    ~Ref() { Py_XDECREF(obj_); }

    PyObject* get() const { return obj_; }
    PyObject* release() { return std::exchange(obj_, nullptr); }
    void reset(PyObject* owned = nullptr) {
        PyObject* old = std::exchange(obj_, owned);
        Py_XDECREF(old);
    }
    explicit operator bool() const { return obj_ != nullptr; }

private:
    PyObject* obj_ = nullptr;
};

// Releases the GIL for the scope: every wait on the client (or the host) goes in one.
class WithoutGil {
public:
    WithoutGil() : saved_(PyEval_SaveThread()) {}
    ~WithoutGil() { PyEval_RestoreThread(saved_); }
    WithoutGil(const WithoutGil&) = delete;
    WithoutGil& operator=(const WithoutGil&) = delete;

private:
    PyThreadState* saved_;
};

// The host table, set once by init; valid for the life of the process.
const cppg_host_t* host();
void set_host(const cppg_host_t* host);

// A line (or several) in the server's error log.
void log(cppg_log_level_t level, std::string_view message);

// The exception being raised, as Python prints it ("Traceback (most recent call last):..."),
// without the trailing newline. Clears the error indicator. GIL held.
std::string take_traceback();

// The exception being raised as one line ("ValueError: bad"); clears it. GIL held.
std::string take_exception_line();

// A static type's object with every slot empty but its name and size (the C API's
// positional initialiser lists all forty slots).
inline PyTypeObject blank_type(const char* name, size_t basic_size) {
    PyTypeObject t;
    std::memset(static_cast<void*>(&t), 0, sizeof t);
    Py_SET_REFCNT(reinterpret_cast<PyObject*>(&t), 1);
    t.tp_name = name;
    t.tp_basicsize = static_cast<Py_ssize_t>(basic_size);
    t.tp_flags = Py_TPFLAGS_DEFAULT;
    return t;
}

// Casts a METH_VARARGS|METH_KEYWORDS or METH_FASTCALL function for a PyMethodDef: the API
// stores every kind as PyCFunction, and casting through void(*)() keeps GCC's
// -Wcast-function-type quiet about what CPython itself does.
template <typename F>
PyCFunction as_method(F fn) {
    return reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(fn));
}

}  // namespace cppg::wsgi
