// -D/--property: lifting the groups out of argv, and setting each named property on the
// packet it belongs to. Names are mosquitto's, so its command lines work unchanged.
#include "tools/cli_properties.h"

#include <cstdlib>
#include <limits>

namespace herald::tools {

namespace {

bool parse_uint(const std::string& s, uint64_t max, uint64_t& out) {
    if (s.empty() || s.find_first_not_of("0123456789") != std::string::npos || s.size() > 10) return false;
    out = std::strtoull(s.c_str(), nullptr, 10);
    return out <= max;
}

// Which commands may carry which property (spec 2.2.2.2, table 2-4).
bool allowed(const std::string& command, const std::string& name) {
    if (name == "user-property") return true;
    if (command == "connect")
        return name == "session-expiry-interval" || name == "receive-maximum" || name == "topic-alias-maximum" ||
               name == "maximum-packet-size" || name == "request-problem-information" ||
               name == "request-response-information" || name == "authentication-method" ||
               name == "authentication-data";
    if (command == "publish" || command == "will")
        return name == "payload-format-indicator" || name == "message-expiry-interval" || name == "content-type" ||
               name == "response-topic" || name == "correlation-data" ||
               (command == "will" && name == "will-delay-interval");
    if (command == "subscribe") return name == "subscription-identifier";
    if (command == "disconnect") return name == "session-expiry-interval" || name == "reason-string";
    return false;
}

std::string set_property(mqtt::Properties& p, const PropertyArg& a) {
    const std::string& v = a.values[0];
    uint64_t n = 0;
    auto bad = [&] { return "invalid value '" + v + "' for property '" + a.name + "'"; };
    const std::string& name = a.name;
    if (name == "user-property") {
        p.user_properties.push_back({a.values[0], a.values[1]});
    } else if (name == "session-expiry-interval" || name == "message-expiry-interval" ||
               name == "will-delay-interval" || name == "maximum-packet-size") {
        if (!parse_uint(v, std::numeric_limits<uint32_t>::max(), n)) return bad();
        auto x = static_cast<uint32_t>(n);
        if (name == "session-expiry-interval") p.session_expiry_interval = x;
        else if (name == "message-expiry-interval") p.message_expiry_interval = x;
        else if (name == "will-delay-interval") p.will_delay_interval = x;
        else p.maximum_packet_size = x;
    } else if (name == "receive-maximum" || name == "topic-alias-maximum") {
        if (!parse_uint(v, 65535, n) || (name == "receive-maximum" && n == 0)) return bad();
        if (name == "receive-maximum") p.receive_maximum = uint16_t(n);
        else p.topic_alias_maximum = uint16_t(n);
    } else if (name == "payload-format-indicator" || name == "request-problem-information" ||
               name == "request-response-information") {
        if (!parse_uint(v, 1, n)) return bad();
        if (name == "payload-format-indicator") p.payload_format_indicator = uint8_t(n);
        else if (name == "request-problem-information") p.request_problem_information = uint8_t(n);
        else p.request_response_information = uint8_t(n);
    } else if (name == "subscription-identifier") {
        if (!parse_uint(v, 268435455, n) || n == 0) return bad();
        p.subscription_identifiers.push_back(uint32_t(n));
    } else if (name == "content-type") {
        p.content_type = v;
    } else if (name == "response-topic") {
        p.response_topic = v;
    } else if (name == "correlation-data") {
        p.correlation_data = v;
    } else if (name == "reason-string") {
        p.reason_string = v;
    } else if (name == "authentication-method") {
        p.authentication_method = v;
    } else if (name == "authentication-data") {
        p.authentication_data = v;
    } else {
        return "unknown property '" + name + "'";
    }
    return "";
}

}  // namespace

std::string extract_property_args(std::vector<std::string>& args, std::vector<PropertyArg>& out) {
    std::vector<std::string> kept;
    kept.reserve(args.size());
    for (size_t i = 0; i < args.size(); ++i) {
        if (i == 0 || (args[i] != "-D" && args[i] != "--property")) {
            kept.push_back(args[i]);
            continue;
        }
        if (i + 2 >= args.size())
            return "-D/--property needs COMMAND NAME VALUE";
        PropertyArg a;
        a.command = args[i + 1];
        a.name = args[i + 2];
        size_t n = a.name == "user-property" ? 2 : 1;
        if (i + 2 + n >= args.size()) return "-D " + a.command + " " + a.name + " needs " + (n == 2 ? "KEY VALUE" : "a VALUE");
        for (size_t k = 0; k < n; ++k) a.values.push_back(args[i + 3 + k]);
        out.push_back(std::move(a));
        i += 2 + n;
    }
    args.swap(kept);
    return "";
}

std::string apply_property_args(const std::vector<PropertyArg>& args, PropertySets& sets) {
    for (const PropertyArg& a : args) {
        mqtt::Properties* target = a.command == "connect"       ? &sets.connect
                                   : a.command == "publish"     ? &sets.publish
                                   : a.command == "subscribe"   ? &sets.subscribe
                                   : a.command == "unsubscribe" ? &sets.unsubscribe
                                   : a.command == "disconnect"  ? &sets.disconnect
                                   : a.command == "will"        ? &sets.will
                                                                : nullptr;
        if (target == nullptr) return "invalid command '" + a.command + "' for -D (connect, publish, subscribe, ...)";
        if (!allowed(a.command, a.name)) return "invalid property '" + a.name + "' for command '" + a.command + "'";
        std::string err = set_property(*target, a);
        if (!err.empty()) return err;
    }
    return "";
}

}  // namespace herald::tools
