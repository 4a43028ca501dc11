// SPDX-License-Identifier: MIT
// Answers every request with 200 and a JSON description of it, body included (base64);
// the URL and header values as latin-1 code points, as WSGI gives them.
#include <cppgunicorn/sdk.hpp>

#include <nlohmann/json.hpp>

namespace {

std::string base64(std::string_view in) {
    static constexpr char kAlphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    out.reserve((in.size() + 2) / 3 * 4);
    size_t i = 0;
    for (; i + 2 < in.size(); i += 3) {
        uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
        for (int shift : {18, 12, 6, 0}) out.push_back(kAlphabet[(v >> shift) & 63]);
    }
    if (size_t rest = in.size() - i) {
        uint32_t v = uint8_t(in[i]) << 16;
        if (rest == 2) v |= uint8_t(in[i + 1]) << 8;
        out.push_back(kAlphabet[(v >> 18) & 63]);
        out.push_back(kAlphabet[(v >> 12) & 63]);
        out.push_back(rest == 2 ? kAlphabet[(v >> 6) & 63] : '=');
        out.push_back('=');
    }
    return out;
}

// Bytes as latin-1 code points, in UTF-8: what WSGI does with header values and the URL.
// Every byte sequence maps to exactly one string, so bytes that are not UTF-8 (obs-text in a
// header, say) reach the JSON unambiguously; UTF-8 input appears as its latin-1 reading.
std::string latin1(std::string_view bytes) {
    std::string out;
    out.reserve(bytes.size());
    for (unsigned char c : bytes) {
        if (c < 0x80) {
            out.push_back(static_cast<char>(c));
        } else {
            out.push_back(static_cast<char>(0xC0 | (c >> 6)));
            out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
        }
    }
    return out;
}

struct Echo {
    explicit Echo(const cppg::Args&) {}

    void handle(cppg::Request& req) const {
        nlohmann::ordered_json doc;
        doc["method"] = req.method();
        doc["target"] = latin1(req.env_or("RAW_URI"));
        doc["path"] = latin1(req.path());
        doc["query"] = latin1(req.query());
        doc["version"] = req.env_or("SERVER_PROTOCOL");
        auto headers = nlohmann::json::array();
        for (const auto& [name, value] : req.headers()) headers.push_back({name, latin1(value)});
        doc["headers"] = std::move(headers);
        doc["body_b64"] = base64(req.read_all());
        doc["remote_addr"] = req.env_or("REMOTE_ADDR");
        std::string body = doc.dump();
        req.respond("200 OK", {{"Content-Type", "application/json"}}, body);
    }
};

}  // namespace

CPPG_APP(Echo, "echo")
