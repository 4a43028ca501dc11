// SPDX-License-Identifier: MIT
// The notes API as a cppgunicorn app:
//   cppgunicorn --workers 2 --threads 4 notes.so -- /var/lib/app/notes.db
#include "notes.hpp"

CPPG_APP(notes::App, "notes")
