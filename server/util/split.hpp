// SPDX-License-Identifier: MIT
// Splitting text on a separator, the one way the server does it.
#pragma once

#include <string_view>
#include <vector>

namespace cppg::util {

// "a,b,,c" on ',' gives "a", "b", "", "c"; empty text gives nothing. The views point into
// `text`.
inline std::vector<std::string_view> split(std::string_view text, char separator) {
    std::vector<std::string_view> out;
    while (!text.empty()) {
        auto at = text.find(separator);
        out.push_back(text.substr(0, at));
        if (at == std::string_view::npos) break;
        text.remove_prefix(at + 1);
    }
    return out;
}

}  // namespace cppg::util
