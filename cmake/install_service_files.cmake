# SPDX-License-Identifier: MIT
# Runs at install time (cmake --install, or cpack staging with DESTDIR), when the real
# prefix is known: fills it into the systemd units, the config file and the man page, and
# installs them. With the prefix /usr (the Debian package) the config goes to /etc and the
# units to /lib/systemd/system; any other prefix keeps both under it.
set(prefix "${CMAKE_INSTALL_PREFIX}")
set(CPPG_BINDIR "${prefix}/bin")
set(CPPG_EXAMPLESDIR "${prefix}/lib/cppgunicorn/examples")
if(prefix STREQUAL "/usr")
  set(CPPG_CONFDIR "/etc/cppgunicorn")
  set(unit_dir "/lib/systemd/system")
else()
  set(CPPG_CONFDIR "${prefix}/etc/cppgunicorn")
  set(unit_dir "${prefix}/lib/systemd/system")
endif()
string(TIMESTAMP CPPG_MAN_DATE "%Y-%m-%d" UTC)  # honours SOURCE_DATE_EPOCH
set(staging "${CPPG_GENERATED}/install")
file(MAKE_DIRECTORY "${staging}")

foreach(unit cppgunicorn.service cppgunicorn.socket cppgunicorn@.service cppgunicorn@.socket)
  configure_file("${CPPG_SOURCE_DIR}/packaging/systemd/${unit}.in" "${staging}/${unit}" @ONLY)
  file(INSTALL "${staging}/${unit}" DESTINATION "${unit_dir}" FILE_PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
endforeach()

# An edited config file is never overwritten by a later install (dpkg handles conffiles
# itself, in its staging directory this file is always new).
configure_file("${CPPG_GENERATED}/cppgunicorn.yaml.in" "${staging}/cppgunicorn.yaml" @ONLY)
if(EXISTS "$ENV{DESTDIR}${CPPG_CONFDIR}/cppgunicorn.yaml")
  message(STATUS "Keeping: $ENV{DESTDIR}${CPPG_CONFDIR}/cppgunicorn.yaml (the new default is ${staging}/cppgunicorn.yaml)")
else()
  file(INSTALL "${staging}/cppgunicorn.yaml" DESTINATION "${CPPG_CONFDIR}" FILE_PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
endif()

# gzip -9n: reproducible (no name or time stamp inside), as Debian wants man pages and changelogs.
function(cppg_install_gzipped source destination name)
  execute_process(COMMAND gzip -9n -c "${source}" OUTPUT_FILE "${staging}/${name}" RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "gzip of ${source} failed")
  endif()
  file(INSTALL "${staging}/${name}" DESTINATION "${destination}" FILE_PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
endfunction()
configure_file("${CPPG_GENERATED}/cppgunicorn.1.in" "${staging}/cppgunicorn.1" @ONLY)
cppg_install_gzipped("${staging}/cppgunicorn.1" "${prefix}/share/man/man1" cppgunicorn.1.gz)
cppg_install_gzipped("${CPPG_SOURCE_DIR}/packaging/debian/changelog" "${prefix}/${CPPG_DOCDIR}" changelog.gz)
