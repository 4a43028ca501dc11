# SPDX-License-Identifier: MIT
# The Debian package: in a Release build directory, `cpack -G DEB` writes
# cppgunicorn_<version>_<arch>.deb. lintian reports no errors and no warnings on it
# (packaging/tests/deb.sh checks that, installs it, builds an app against it and purges it).
set(CPACK_PACKAGE_NAME cppgunicorn)
set(CPACK_PACKAGE_VENDOR "cppgunicorn")
set(CPACK_PACKAGE_CONTACT "cppgunicorn maintainers <maintainers@cppgunicorn.org>")
# MIT (Debian's name: Expat). A .deb's control file has no licence field: Debian reads it
# from usr/share/doc/cppgunicorn/copyright (packaging/debian/copyright, DEP-5), which also
# covers llhttp, compiled into the server. The generators that have one get it here.
set(CPACK_RESOURCE_FILE_LICENSE ${PROJECT_SOURCE_DIR}/LICENSE)
set(CPACK_RPM_PACKAGE_LICENSE "MIT")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "pre-fork HTTP/1.1 application server for native app plugins")
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
"gunicorn's operating model with a native core: a master binds the sockets and
supervises worker processes; each worker serves HTTP/1.1 from an event loop and
runs the application, a plugin loaded through a small versioned C ABI, on a
pool of threads. It speaks systemd's notify protocol, takes sockets from
socket activation, and answers health probes from the master.
.
This package also holds the build kit for apps: the C ABI and C++ SDK headers,
a CMake package (find_package(cppgunicorn), cppgunicorn_add_app) and a
pkg-config file, plus example apps.")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION httpd)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# What building an app needs; doctest-dev for the examples' tests, libsqlite3-dev for
# examples/notes (share/doc/cppgunicorn/examples).
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "nlohmann-json3-dev, cmake, g++, pkg-config, doctest-dev, libsqlite3-dev")
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
  ${PROJECT_SOURCE_DIR}/packaging/debian/postinst
  ${PROJECT_SOURCE_DIR}/packaging/debian/prerm
  ${PROJECT_SOURCE_DIR}/packaging/debian/postrm
  ${PROJECT_SOURCE_DIR}/packaging/debian/conffiles)
set(CPACK_GENERATOR DEB)
include(CPack)
