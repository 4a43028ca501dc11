// SPDX-License-Identifier: MIT
// The HTTP conformance corpus (tests/http_corpus/requests.jsonl, RFC 9112 and 9110 cases
// with their expected outcome) through the request parser: each case whole, byte by byte,
// and cut at seeded random points. The same corpus runs against the real server, and against
// gunicorn for comparison, in tests/integration/test_68_http_corpus.py.
#include <doctest/doctest.h>

#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "http/parser.hpp"

namespace {

struct Seen {
    std::string method, target, body;
};

struct Collector final : cppg::http::ParserEvents {
    std::vector<Seen> requests;
    void on_request_head(const cppg::http::Request& r) override {
        requests.push_back({std::string(r.method()), std::string(r.target()), ""});
    }
    void on_request_body(std::string_view d) override { requests.back().body += d; }
    void on_request_complete() override {}
};

// JSON strings hold the raw bytes as latin-1 code points (U+0000..U+00FF).
std::string latin1_bytes(const std::string& utf8) {
    std::string out;
    for (size_t i = 0; i < utf8.size(); ++i) {
        auto c = static_cast<unsigned char>(utf8[i]);
        if (c < 0x80) out.push_back(static_cast<char>(c));
        else out.push_back(static_cast<char>(((c & 0x03) << 6) | (static_cast<unsigned char>(utf8[++i]) & 0x3F)));
    }
    return out;
}

// Feeds the pieces; returns the error status, or 0 when everything parsed.
int run(const std::string& raw, const std::vector<size_t>& cuts, Collector& out) {
    cppg::http::RequestParser parser({}, out);
    size_t from = 0;
    for (size_t i = 0; i <= cuts.size(); ++i) {
        size_t to = i < cuts.size() ? cuts[i] : raw.size();
        std::string_view piece(raw.data() + from, to - from);
        while (!piece.empty()) {
            auto r = parser.feed(piece.data(), piece.size());
            if (r.status == cppg::http::RequestParser::Status::kError) return parser.error_status();
            if (r.status == cppg::http::RequestParser::Status::kNeedMore) break;
            piece.remove_prefix(r.consumed);
            parser.resume();
        }
        from = to;
    }
    return 0;
}

std::vector<nlohmann::json> corpus() {
    std::ifstream in(CPPG_HTTP_CORPUS);
    REQUIRE(in);
    std::vector<nlohmann::json> cases;
    for (std::string line; std::getline(in, line);)
        if (!line.empty()) cases.push_back(nlohmann::json::parse(line));
    return cases;
}

}  // namespace

TEST_CASE("the HTTP corpus: whole, byte by byte and in random pieces") {
    auto cases = corpus();
    CHECK(cases.size() > 50);
    std::mt19937 rng(20261202);
    for (const auto& c : cases) {
        std::string raw = latin1_bytes(c["raw"].get<std::string>());
        std::vector<std::vector<size_t>> splits = {{}};
        std::vector<size_t> bytewise;
        for (size_t i = 1; i < raw.size(); ++i) bytewise.push_back(i);
        splits.push_back(bytewise);
        for (int round = 0; round < 8; ++round) {
            std::vector<size_t> cuts;
            for (size_t i = 1; i < raw.size(); ++i)
                if (rng() % 5 == 0) cuts.push_back(i);
            splits.push_back(cuts);
        }
        int expected = c["status"].get<int>();
        std::string id = c["id"].get<std::string>();
        for (const auto& cuts : splits) {
            CAPTURE(id);
            CAPTURE(cuts.size());
            Collector seen;
            int status = run(raw, cuts, seen);
            if (expected != 200) {
                CHECK(status == expected);
                continue;
            }
            REQUIRE(status == 0);
            const auto& want = c["requests"];
            REQUIRE(seen.requests.size() == want.size());
            for (size_t i = 0; i < want.size(); ++i) {
                CHECK(seen.requests[i].method == want[i]["method"].get<std::string>());
                CHECK(seen.requests[i].target == latin1_bytes(want[i]["target"].get<std::string>()));
                CHECK(seen.requests[i].body == latin1_bytes(want[i]["body"].get<std::string>()));
            }
        }
    }
}
