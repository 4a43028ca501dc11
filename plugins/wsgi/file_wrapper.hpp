// SPDX-License-Identifier: MIT
// wsgi.file_wrapper sent as a file: when the app returns a FileWrapper over a regular file
// and declared a Content-Length, its bytes go with the host's send_file (sendfile(2)) from
// the file object's current position (tell(), which counts what its buffer read ahead),
// never past the Content-Length. Otherwise (a BytesIO, a pipe, no length) the bridge
// iterates the wrapper, which reads blksize bytes at a time.
#pragma once

#include "python.hpp"

namespace cppg::wsgi {

// True when the result was sent this way (rc: 0 or the host's error); false when it does not
// apply and the result must be iterated. GIL held; released while the host sends.
bool send_file_wrapper(PyObject* responder, PyObject* result, PyObject* file_wrapper_type, int& rc);

}  // namespace cppg::wsgi
