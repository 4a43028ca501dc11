// SPDX-License-Identifier: MIT
// gunicorn's APP argument: `cppgunicorn myproject.wsgi:application` names a Python WSGI app,
// not a plugin file. Such an app is served by the WSGI bridge plugin (plugins/wsgi/), which
// is given the app and the Python settings as its arguments.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/settings.hpp"

namespace cppg::config {

// MODULE, MODULE:CALLABLE or MODULE:factory(args): a dotted Python name, optionally with a
// colon and an expression. A path (a '/' in it) or a name ending in ".so" is a plugin file.
bool is_python_app(std::string_view app);

// The installed WSGI bridge: next to the server in a build tree (plugins/wsgi/wsgi.so), or
// under ../lib/cppgunicorn/ of an installed server; nullopt when neither exists.
std::optional<std::string> find_wsgi_bridge();

// The bridge's arguments for `app` and the settings: [--pythonpath P] [--virtualenv V]
// --threads N --workers N APP [-- APP_ARGS...] (the counts set wsgi.multithread/multiprocess).
std::vector<std::string> wsgi_bridge_args(const std::string& app, const Settings& settings);

}  // namespace cppg::config
