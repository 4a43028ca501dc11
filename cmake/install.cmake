# SPDX-License-Identifier: MIT
# What `cmake --install` and the Debian package (cpack -G DEB) install:
#   bin/cppgunicorn                     the server
#   include/cppgunicorn/                the C ABI and the C++ SDK
#   lib/cppgunicorn/examples/*.so       the example apps
#   share/cppgunicorn/cmake/            the CMake package (find_package(cppgunicorn))
#   share/cppgunicorn/systemd/          drop-ins to copy to /etc/systemd/system (data.conf)
#   share/pkgconfig/cppgunicorn.pc      for pkg-config users
#   share/man/man1/cppgunicorn.1.gz     generated from the settings and signals tables
#   share/doc/cppgunicorn/              README.md, docs/, examples/ (the source tree's layout,
#                                       so relative links work), changelog, copyright
#   <sysconf>/cppgunicorn/cppgunicorn.yaml and the systemd units (cmake/install_service_files.cmake)
include(CMakePackageConfigHelpers)

set(CPPG_CMAKE_DIR ${CMAKE_INSTALL_DATADIR}/cppgunicorn/cmake)
set(CPPG_EXAMPLE_APPS hello echo isolation fanout routes hello_sdk)

install(TARGETS cppgunicorn RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY include/cppgunicorn DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS ${CPPG_EXAMPLE_APPS} LIBRARY DESTINATION lib/cppgunicorn/examples)
# Example sources: single files, and the app projects that build on their own against the
# installed kit, tests included (packaging/tests/deb.sh builds and tests each one).
install(FILES ${PROJECT_SOURCE_DIR}/examples/hello.c ${PROJECT_SOURCE_DIR}/examples/hello_sdk.cpp
        ${PROJECT_SOURCE_DIR}/examples/routes.cpp DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples)
set(CPPG_EXAMPLE_PROJECTS standalone todo notes)
foreach(project ${CPPG_EXAMPLE_PROJECTS})
  install(DIRECTORY examples/${project} DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples)
endforeach()
# A drop-in for cppgunicorn@NAME: a data directory the workers can write (docs/deployment.md).
# Not under share/doc: minimal images (Debian's slim ones) leave the docs out.
install(FILES "packaging/systemd/cppgunicorn@.service.d/data.conf"
        DESTINATION "${CMAKE_INSTALL_DATADIR}/cppgunicorn/systemd/cppgunicorn@.service.d")

# The CMake package: the exported sdk target, the config file and cppgunicorn_add_app.
install(TARGETS cppgunicorn_sdk EXPORT cppgunicornTargets)
install(EXPORT cppgunicornTargets NAMESPACE cppgunicorn:: DESTINATION ${CPPG_CMAKE_DIR})
configure_package_config_file(cmake/cppgunicornConfig.cmake.in
  ${CMAKE_BINARY_DIR}/packaging/cppgunicornConfig.cmake
  INSTALL_DESTINATION ${CPPG_CMAKE_DIR} PATH_VARS CMAKE_INSTALL_INCLUDEDIR)
# Header-only: one package serves every architecture; an app may ask for any 0.x >= it.
write_basic_package_version_file(${CMAKE_BINARY_DIR}/packaging/cppgunicornConfigVersion.cmake
  COMPATIBILITY SameMajorVersion ARCH_INDEPENDENT)
install(FILES ${CMAKE_BINARY_DIR}/packaging/cppgunicornConfig.cmake
              ${CMAKE_BINARY_DIR}/packaging/cppgunicornConfigVersion.cmake
              cmake/cppgunicornAddApp.cmake
        DESTINATION ${CPPG_CMAKE_DIR})

configure_file(packaging/pkgconfig/cppgunicorn.pc.in ${CMAKE_BINARY_DIR}/packaging/cppgunicorn.pc @ONLY)
install(FILES ${CMAKE_BINARY_DIR}/packaging/cppgunicorn.pc DESTINATION ${CMAKE_INSTALL_DATADIR}/pkgconfig)

# The docs keep the tree's layout: README.md links docs/X.md, the docs link ../examples/.
# packaging/tests/doc-links.py checks every relative link of the installed copy.
file(GLOB CPPG_DOCS CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/docs/*.md)
install(FILES README.md DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(FILES ${CPPG_DOCS} DESTINATION ${CMAKE_INSTALL_DOCDIR}/docs)
# What docs/benchmarks.md's figures mean: every scenario, command line and column.
install(FILES bench/README.md DESTINATION ${CMAKE_INSTALL_DOCDIR}/bench)
install(FILES packaging/debian/copyright DESTINATION ${CMAKE_INSTALL_DOCDIR})

# Generated from the tables at build time; the install-prefix paths go in at install time.
set(CPPG_GENERATED ${CMAKE_BINARY_DIR}/packaging/generated)
add_custom_command(OUTPUT ${CPPG_GENERATED}/cppgunicorn.1.in ${CPPG_GENERATED}/cppgunicorn.yaml.in
  COMMAND ${CMAKE_COMMAND} -E make_directory ${CPPG_GENERATED}
  COMMAND cppg_settings_doc man ${PROJECT_SOURCE_DIR}/packaging/man/cppgunicorn.1.in > ${CPPG_GENERATED}/cppgunicorn.1.in
  COMMAND cppg_settings_doc yaml ${PROJECT_SOURCE_DIR}/packaging/config/cppgunicorn.yaml.in > ${CPPG_GENERATED}/cppgunicorn.yaml.in
  DEPENDS cppg_settings_doc packaging/man/cppgunicorn.1.in packaging/config/cppgunicorn.yaml.in
  COMMENT "Rendering the man page and the config file from the settings table")
add_custom_target(packaging_files ALL DEPENDS ${CPPG_GENERATED}/cppgunicorn.1.in ${CPPG_GENERATED}/cppgunicorn.yaml.in)

install(CODE "
  set(CPPG_SOURCE_DIR \"${PROJECT_SOURCE_DIR}\")
  set(CPPG_GENERATED \"${CPPG_GENERATED}\")
  set(PROJECT_VERSION \"${PROJECT_VERSION}\")
  set(CPPG_DOCDIR \"${CMAKE_INSTALL_DOCDIR}\")
  include(\"${PROJECT_SOURCE_DIR}/cmake/install_service_files.cmake\")
")

include(cmake/package.cmake)
