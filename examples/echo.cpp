// Answers every request with 200 and a JSON description of it, body included (base64).
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

struct Echo {
    explicit Echo(const cppg::Args&) {}

    void handle(cppg::Request& req) const {
        nlohmann::ordered_json doc;
        doc["method"] = req.method();
        doc["target"] = req.env_or("RAW_URI");
        doc["path"] = req.path();
        doc["query"] = req.query();
        doc["version"] = req.env_or("SERVER_PROTOCOL");
        auto headers = nlohmann::json::array();
        for (const auto& [name, value] : req.headers()) headers.push_back({name, value});
        doc["headers"] = std::move(headers);
        doc["body_b64"] = base64(req.read_all());
        doc["remote_addr"] = req.env_or("REMOTE_ADDR");
        std::string body = doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
        req.respond("200 OK", {{"Content-Type", "application/json"}}, body);
    }
};

}  // namespace

CPPG_APP(Echo, "echo")
