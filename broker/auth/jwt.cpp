// JwtVerifier::verify: the shape of a compact JWS, its header, then the claims. Order matters:
// the signature is checked before any claim is read, so an unsigned token teaches an attacker
// nothing about which claim would fail. Keys and signatures are in jwt_keys.cpp.
#include "broker/auth/jwt.h"

#include <nlohmann/json.hpp>

#include "broker/auth/base64.h"

namespace herald::auth {
namespace {

using nlohmann::json;

// Parses base64url JSON that must be an object; false (and nothing thrown) otherwise.
bool decode_json_object(std::string_view b64, json& out, std::string& scratch) {
    if (!base64url_decode(b64, scratch)) return false;
    out = json::parse(scratch, nullptr, /*allow_exceptions=*/false);
    return !out.is_discarded() && out.is_object();
}

bool iequals_none(std::string_view s) {
    if (s.size() != 4) return false;
    const char* n = "none";
    for (size_t i = 0; i < 4; i++)
        if ((s[i] | 0x20) != n[i]) return false;
    return true;
}

// The alg in an error sentence, only if it is short and plain (it comes from the attacker).
std::string printable_alg(std::string_view alg) {
    if (alg.empty() || alg.size() > 16) return "this algorithm";
    for (char c : alg)
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_'))
            return "this algorithm";
    return "algorithm " + std::string(alg);
}

// A NumericDate claim (RFC 7519 2: seconds, possibly fractional). Absent -> `present` false.
bool numeric_claim(const json& claims, const char* name, bool& present, double& value) {
    auto it = claims.find(name);
    present = it != claims.end();
    if (!present) return true;
    if (!it->is_number()) return false;
    value = it->get<double>();
    return true;
}

bool audience_matches(const json& aud, const std::string& want) {
    if (aud.is_string()) return aud.get_ref<const std::string&>() == want;
    if (!aud.is_array()) return false;
    for (const auto& a : aud)
        if (a.is_string() && a.get_ref<const std::string&>() == want) return true;
    return false;
}

}  // namespace

bool looks_like_jwt(std::string_view s) {
    if (s.size() < 10 || s.substr(0, 3) != "eyJ") return false;  // base64url of '{"'
    int dots = 0;
    for (char c : s) {
        if (c == '.') dots++;
        else if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                   c == '-' || c == '_'))
            return false;
    }
    return dots == 2;
}

JwtResult JwtVerifier::verify(std::string_view token, std::string_view username,
                              int64_t now_unix) const {
    if (token.size() > config_.max_token_bytes) return JwtResult::bad("token is too long");
    size_t d1 = token.find('.');
    size_t d2 = d1 == std::string_view::npos ? d1 : token.find('.', d1 + 1);
    if (d2 == std::string_view::npos || token.find('.', d2 + 1) != std::string_view::npos)
        return JwtResult::bad("token is not header.payload.signature");
    std::string_view header_b64 = token.substr(0, d1);
    std::string_view payload_b64 = token.substr(d1 + 1, d2 - d1 - 1);
    std::string_view signature_b64 = token.substr(d2 + 1);

    std::string scratch;
    json header;
    if (!decode_json_object(header_b64, header, scratch))
        return JwtResult::bad("token header is not base64url JSON");
    auto alg_it = header.find("alg");
    if (alg_it == header.end() || !alg_it->is_string())
        return JwtResult::bad("token header has no alg");
    const std::string& alg = alg_it->get_ref<const std::string&>();
    if (iequals_none(alg)) return JwtResult::bad("algorithm none is not allowed");
    bool configured = (alg == "HS256" && has_hs256()) || (alg == "RS256" && has_rs256()) ||
                      (alg == "ES256" && has_es256());
    if (!configured) return JwtResult::bad(printable_alg(alg) + " is not allowed");
    // RFC 7515 4.1.11: extensions we do not understand must be refused.
    if (header.contains("crit")) return JwtResult::bad("token header has crit extensions");

    std::string signature;
    if (signature_b64.empty() || !base64url_decode(signature_b64, signature))
        return JwtResult::bad("token signature is not base64url");
    if (!check_signature(alg, token.substr(0, d2), signature))
        return JwtResult::bad("signature does not verify");

    json claims;
    if (!decode_json_object(payload_b64, claims, scratch))
        return JwtResult::bad("token payload is not base64url JSON");
    auto sub = claims.find("sub");
    if (sub == claims.end() || !sub->is_string()) return JwtResult::bad("token has no sub");
    if (sub->get_ref<const std::string&>() != username)
        return JwtResult::bad("sub does not match the username");

    const double now = static_cast<double>(now_unix);
    const double leeway = static_cast<double>(config_.leeway_seconds);
    bool present = false;
    double value = 0;
    if (!numeric_claim(claims, "exp", present, value)) return JwtResult::bad("exp is not a number");
    if (!present && config_.require_exp) return JwtResult::bad("token has no exp");
    if (present && now >= value + leeway) return JwtResult::bad("token expired");
    if (!numeric_claim(claims, "nbf", present, value)) return JwtResult::bad("nbf is not a number");
    if (present && now + leeway < value) return JwtResult::bad("token is not valid yet");
    if (!numeric_claim(claims, "iat", present, value)) return JwtResult::bad("iat is not a number");

    if (!config_.audience.empty()) {
        auto aud = claims.find("aud");
        if (aud == claims.end() || !audience_matches(*aud, config_.audience))
            return JwtResult::bad("aud does not match");
    }
    if (!config_.issuer.empty()) {
        auto iss = claims.find("iss");
        if (iss == claims.end() || !iss->is_string() ||
            iss->get_ref<const std::string&>() != config_.issuer)
            return JwtResult::bad("iss does not match");
    }
    return JwtResult::good();
}

}  // namespace herald::auth
