# SPDX-License-Identifier: MIT
# cppgunicorn_add_app(NAME SOURCES...): builds an app plugin, NAME.so, for cppgunicorn.
#
# A MODULE library (loaded with dlopen, never linked against), named without the "lib"
# prefix because users point the server at the file, with hidden visibility so that only
# the ABI's entry points are exported, built against cppgunicorn::sdk (the headers, C++20 and
# the SDK's dependencies). The same function builds the examples in cppgunicorn's own tree.
function(cppgunicorn_add_app name)
  if(NOT ARGN)
    message(FATAL_ERROR "cppgunicorn_add_app(${name}): no source files given")
  endif()
  add_library(${name} MODULE ${ARGN})
  set_target_properties(${name} PROPERTIES
    PREFIX ""
    C_VISIBILITY_PRESET hidden
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON)
  target_link_libraries(${name} PRIVATE cppgunicorn::sdk)
endfunction()
