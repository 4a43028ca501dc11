// SPDX-License-Identifier: MIT
// The to-do API as a cppgunicorn app:  cppgunicorn --workers 2 --threads 4 todo.so
#include "todo.hpp"

CPPG_APP(todo::App, "todo")
