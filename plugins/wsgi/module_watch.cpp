// SPDX-License-Identifier: MIT
#include "module_watch.hpp"

#include <cstddef>

#include "python.hpp"

namespace cppg::wsgi {

namespace {

// module.__file__ as a path, or "" (built-in and namespace modules have none).
std::string file_of(PyObject* module) {
    Ref file(PyObject_GetAttrString(module, "__file__"));
    if (!file || !PyUnicode_Check(file.get())) {
        PyErr_Clear();
        return {};
    }
    Ref bytes(PyUnicode_EncodeFSDefault(file.get()));
    if (!bytes) {
        PyErr_Clear();
        return {};
    }
    return PyBytes_AS_STRING(bytes.get());
}

}  // namespace

void ModuleWatch::report_new_modules() {
    std::unique_lock lock(mu_, std::try_to_lock);
    if (!lock || off_ || host()->struct_size < offsetof(cppg_host_t, watch_file) + sizeof(void*)) return;
    PyObject* modules = PySys_GetObject("modules");  // borrowed
    if (modules == nullptr || !PyDict_Check(modules)) return;
    auto count = static_cast<size_t>(PyDict_Size(modules));
    if (count == modules_seen_) return;
    modules_seen_ = count;
    Ref values(PyDict_Values(modules));  // a copy: importing while iterating changes the dict
    for (Py_ssize_t i = 0; values && i < PyList_GET_SIZE(values.get()); ++i) {
        std::string path = file_of(PyList_GET_ITEM(values.get(), i));
        if (path.empty() || !named_.insert(path).second) continue;
        if (host()->watch_file(path.c_str()) == CPPG_ESTATE) {
            off_ = true;  // --reload is off: nothing to name, now or later
            return;
        }
    }
}

}  // namespace cppg::wsgi
