# SPDX-License-Identifier: MIT
# cmake -DINPUT=x.py -DOUTPUT=x.cpp -DSYMBOL=name -P embed_source.cmake
# Writes a C++ file defining `extern const char SYMBOL[]` with INPUT's text, byte for byte.
file(READ "${INPUT}" text)
string(FIND "${text}" ")__cppg_embed__\"" clash)
if(NOT clash EQUAL -1)
  message(FATAL_ERROR "${INPUT} contains the raw string delimiter")
endif()
file(WRITE "${OUTPUT}" "// Generated from ${INPUT} by embed_source.cmake; do not edit.\nnamespace cppg::wsgi {\nextern const char ${SYMBOL}[];\nconst char ${SYMBOL}[] = R\"__cppg_embed__(${text})__cppg_embed__\";\n}\n")
