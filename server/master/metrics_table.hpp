// SPDX-License-Identifier: MIT
// The table of every metric /metrics serves (master/metrics.def), as C++: the exposition's
// family lines and the docs' metrics table both come from it.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace cppg::master {

enum class Metric : uint8_t {
#define METRIC(id, name, type, labels, help, alert) k##id,
#include "master/metrics.def"
#undef METRIC
};

struct MetricSpec {
    std::string_view name;
    std::string_view type;    // counter, gauge or histogram
    std::string_view labels;  // as the docs show them
    std::string_view help;
    std::string_view alert;
};

inline constexpr std::array kMetricSpecs = {
#define METRIC(id, name, type, labels, help, alert) MetricSpec{name, #type, labels, help, alert},
#include "master/metrics.def"
#undef METRIC
};

inline const MetricSpec& spec_of(Metric metric) { return kMetricSpecs[static_cast<size_t>(metric)]; }

// The docs' table: one row per metric (name, type, labels, meaning, when to alert).
inline std::string render_metrics_markdown() {
    std::string out = "| metric | type | labels | meaning | alert when |\n|---|---|---|---|---|\n";
    for (const auto& m : kMetricSpecs)
        out += "| `" + std::string(m.name) + "` | " + std::string(m.type) + " | " + std::string(m.labels) + " | " +
               std::string(m.help) + " | " + std::string(m.alert) + " |\n";
    return out;
}

}  // namespace cppg::master
