// TOML -> core::Config: one table of numeric keys with units and ranges, a few typed keys by
// hand, and [[listeners]]. Errors carry "file:line:" so a person can go straight to the typo.
#include "broker/config/config_file.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <type_traits>
#include <utility>

#include <fmt/format.h>
#include <toml++/toml.h>

#include "broker/config/units.h"

namespace herald::config {

namespace {

// What an integer in the file means, and which strings are accepted instead.
enum class Unit {
    Count,    // a plain integer
    Bytes,    // integer bytes or "64KiB"
    Seconds,  // integer seconds or "10s" (whole seconds)
    Millis,   // integer seconds or "500ms"; stored in milliseconds
};

struct NumericKey {
    const char* name;
    Unit unit;
    uint64_t min;
    uint64_t max;
    void (*store)(core::Config&, uint64_t);
};

template <auto Member>
void store_number(core::Config& config, uint64_t value) {
    using T = std::remove_reference_t<decltype(config.*Member)>;
    config.*Member = static_cast<T>(value);
}

constexpr uint64_t kU16 = std::numeric_limits<uint16_t>::max();
constexpr uint64_t kU32 = std::numeric_limits<uint32_t>::max();
constexpr uint64_t kI64 = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());

using C = core::Config;
const NumericKey kNumericKeys[] = {
    // 268435455 is the largest remaining length; 5 more bytes for the fixed header.
    {"max_packet_size", Unit::Bytes, 2, 268435455 + 5, &store_number<&C::max_packet_size>},
    {"max_keepalive", Unit::Seconds, 0, kU16, &store_number<&C::max_keepalive>},
    {"connect_timeout", Unit::Millis, 1, kU32, &store_number<&C::connect_timeout_ms>},
    {"max_connections", Unit::Count, 0, kU32, &store_number<&C::max_connections>},
    {"max_connect_rate", Unit::Count, 0, kU32, &store_number<&C::max_connect_rate>},
    {"max_queued_messages", Unit::Count, 0, kU32, &store_number<&C::max_queued_messages>},
    {"max_queued_bytes", Unit::Bytes, 0, kI64, &store_number<&C::max_queued_bytes>},
    {"max_inflight_messages", Unit::Count, 1, kU16, &store_number<&C::max_inflight_messages>},
    {"receive_maximum", Unit::Count, 1, kU16, &store_number<&C::receive_maximum>},
    {"topic_alias_maximum", Unit::Count, 0, kU16, &store_number<&C::topic_alias_maximum>},
    {"max_session_expiry", Unit::Seconds, 0, kU32, &store_number<&C::max_session_expiry>},
    {"max_qos", Unit::Count, 0, 2, &store_number<&C::max_qos>},
    {"max_topic_levels", Unit::Count, 1, kU32, &store_number<&C::max_topic_levels>},
    {"sys_interval", Unit::Seconds, 0, kU32, &store_number<&C::sys_interval>},
    {"max_output_buffer", Unit::Bytes, 1, kU32, &store_number<&C::max_output_buffer>},
};

// The numeric keys of [presence], named as a person writes them in messages.
const NumericKey kPresenceKeys[] = {
    {"presence.grace", Unit::Millis, 0, kU32, &store_number<&C::presence_grace_ms>},
    {"presence.max_devices", Unit::Count, 0, kU32, &store_number<&C::presence_max_devices>},
    {"presence.group_limit", Unit::Count, 0, kU32, &store_number<&C::presence_group_limit>},
};

// The numeric keys of [streams] (SPEC 5).
const NumericKey kStreamsKeys[] = {
    {"streams.ttl", Unit::Seconds, 0, kU32, &store_number<&C::streams_ttl>},
    {"streams.device_expiry", Unit::Seconds, 0, kU32, &store_number<&C::streams_device_expiry>},
    {"streams.max_pending", Unit::Count, 0, kU32, &store_number<&C::streams_max_pending>},
    {"streams.max_pending_bytes", Unit::Bytes, 0, kI64, &store_number<&C::streams_max_pending_bytes>},
    {"streams.max_per_conversation", Unit::Count, 0, kU32, &store_number<&C::streams_max_per_conversation>},
};

const char* type_name(toml::node_type type) {
    switch (type) {
        case toml::node_type::table: return "a table";
        case toml::node_type::array: return "an array";
        case toml::node_type::string: return "a string";
        case toml::node_type::integer: return "an integer";
        case toml::node_type::floating_point: return "a floating-point number";
        case toml::node_type::boolean: return "a boolean";
        case toml::node_type::date: return "a date";
        case toml::node_type::time: return "a time";
        case toml::node_type::date_time: return "a date-time";
        default: return "nothing";
    }
}

const char* unit_suffix(Unit unit) {
    switch (unit) {
        case Unit::Bytes: return " bytes";
        case Unit::Seconds: return " seconds";
        case Unit::Millis: return " ms";
        default: return "";
    }
}

// One parse: the file name for messages and the directory for relative paths.
class Parser {
public:
    Parser(const std::string& origin, std::string& error)
        : origin_(origin), base_(std::filesystem::path(origin).parent_path()), error_(error) {}

    bool parse(const toml::table& root, core::Config& config);
    std::string resolve(const std::string& path) const;

private:
    bool fail(const toml::source_region& where, const std::string& message) {
        error_ = fmt::format("{}:{}: {}", origin_, where.begin.line, message);
        return false;
    }

    bool numeric(const NumericKey& key, const toml::node& node, core::Config& config);
    bool boolean(std::string_view key, const toml::node& node, bool& out);
    bool string(std::string_view key, const toml::node& node, std::string& out);
    bool listeners(const toml::node& node, core::Config& config);
    bool presence(const toml::node& node, core::Config& config);
    bool streams(const toml::node& node, core::Config& config);
    bool listener(const toml::table& table, core::ListenerConfig& out);
    bool auth(const toml::node& node, core::AuthConfig& out);

    const std::string& origin_;
    std::filesystem::path base_;
    std::string& error_;
};

bool Parser::parse(const toml::table& root, core::Config& config) {
    for (auto&& [key, node] : root) {
        const std::string_view name = key.str();
        const NumericKey* numeric_key = nullptr;
        for (const NumericKey& candidate : kNumericKeys) {
            if (name == candidate.name) numeric_key = &candidate;
        }
        bool ok = true;
        if (numeric_key != nullptr) {
            ok = numeric(*numeric_key, node, config);
        } else if (name == "allow_anonymous") {
            ok = boolean(name, node, config.allow_anonymous);
        } else if (name == "log_json") {
            ok = boolean(name, node, config.log_json);
        } else if (name == "retain_available") {
            ok = boolean(name, node, config.retain_available);
        } else if (name == "acl_file" || name == "password_file" || name == "data_dir") {
            std::string& out = name == "acl_file"        ? config.acl_file
                               : name == "password_file" ? config.password_file
                                                         : config.data_dir;
            ok = string(name, node, out);
            if (ok && name == "data_dir" && out.empty()) {
                return fail(node.source(), "data_dir must not be empty");
            }
            out = resolve(out);
        } else if (name == "log_level") {
            ok = string(name, node, config.log_level);
            const std::string& level = config.log_level;
            if (ok && level != "trace" && level != "debug" && level != "info" && level != "warn" &&
                level != "error") {
                return fail(node.source(),
                            fmt::format("log_level '{}' is not one of trace | debug | info | "
                                        "warn | error", level));
            }
        } else if (name == "durability") {
            ok = string(name, node, config.durability);
            if (ok && config.durability != "process" && config.durability != "power") {
                return fail(node.source(), fmt::format("durability '{}' is not one of process | "
                                                       "power", config.durability));
            }
        } else if (name == "listeners") {
            ok = listeners(node, config);
        } else if (name == "presence") {
            ok = presence(node, config);
        } else if (name == "streams") {
            ok = streams(node, config);
        } else if (name == "auth") {
            ok = auth(node, config.auth);
        } else {
            return fail(key.source(), fmt::format("unknown key '{}'", name));
        }
        if (!ok) return false;
    }
    if (config.listeners.empty()) config.listeners.push_back(core::ListenerConfig{});
    return true;
}

bool Parser::numeric(const NumericKey& key, const toml::node& node, core::Config& config) {
    uint64_t value = 0;
    std::string shown;  // the value as written, for the range message
    if (const auto* integer = node.as_integer()) {
        const int64_t raw = integer->get();
        shown = std::to_string(raw);
        if (raw < 0) {
            return fail(node.source(), fmt::format("{} = {} is out of range ({}..{}{})", key.name,
                                                   raw, key.min, key.max, unit_suffix(key.unit)));
        }
        value = static_cast<uint64_t>(raw);
        if (key.unit == Unit::Millis) {
            if (value > std::numeric_limits<uint64_t>::max() / 1000) value = kI64;
            else value *= 1000;
        }
    } else if (const auto* text = node.as_string(); text != nullptr && key.unit != Unit::Count) {
        shown = fmt::format("\"{}\"", text->get());
        uint64_t ms = 0;
        if (key.unit == Unit::Bytes) {
            if (!parse_size(text->get(), value)) {
                return fail(node.source(), fmt::format("{}: cannot read {} as a size (write "
                                                       "bytes, or \"64KiB\", \"1MiB\", \"1GiB\")",
                                                       key.name, shown));
            }
        } else if (!parse_duration_ms(text->get(), ms)) {
            return fail(node.source(),
                        fmt::format("{}: cannot read {} as a duration (write seconds, or "
                                    "\"500ms\", \"10s\", \"5m\", \"2h\", \"7d\")",
                                    key.name, shown));
        } else if (key.unit == Unit::Seconds) {
            if (ms % 1000 != 0) {
                return fail(node.source(), fmt::format("{} = {} is not a whole number of seconds",
                                                       key.name, shown));
            }
            value = ms / 1000;
        } else {
            value = ms;
        }
    } else {
        const char* expected = key.unit == Unit::Count   ? "an integer"
                               : key.unit == Unit::Bytes ? "an integer or a size such as \"64KiB\""
                                                         : "an integer (seconds) or a duration "
                                                           "such as \"10s\"";
        return fail(node.source(), fmt::format("{} must be {}, not {}", key.name, expected,
                                               type_name(node.type())));
    }
    if (value < key.min || value > key.max) {
        return fail(node.source(), fmt::format("{} = {} is out of range ({}..{}{})", key.name,
                                               shown, key.min, key.max, unit_suffix(key.unit)));
    }
    key.store(config, value);
    return true;
}

bool Parser::boolean(std::string_view key, const toml::node& node, bool& out) {
    const auto* value = node.as_boolean();
    if (value == nullptr) {
        return fail(node.source(), fmt::format("{} must be true or false, not {}", key,
                                               type_name(node.type())));
    }
    out = value->get();
    return true;
}

bool Parser::string(std::string_view key, const toml::node& node, std::string& out) {
    const auto* value = node.as_string();
    if (value == nullptr) {
        return fail(node.source(),
                    fmt::format("{} must be a string, not {}", key, type_name(node.type())));
    }
    out = value->get();
    return true;
}

bool Parser::listeners(const toml::node& node, core::Config& config) {
    const auto* array = node.as_array();
    if (array == nullptr) {
        return fail(node.source(), "listeners must be an array of tables: write [[listeners]]");
    }
    for (const toml::node& element : *array) {
        const auto* table = element.as_table();
        if (table == nullptr) {
            return fail(element.source(), fmt::format("each of listeners must be a table, not {}",
                                                      type_name(element.type())));
        }
        core::ListenerConfig listener_config;
        if (!listener(*table, listener_config)) return false;
        config.listeners.push_back(std::move(listener_config));
    }
    return true;
}

bool Parser::presence(const toml::node& node, core::Config& config) {
    const auto* table = node.as_table();
    if (table == nullptr) {
        return fail(node.source(), "presence must be a table: write [presence]");
    }
    for (auto&& [key, value] : *table) {
        const std::string name = fmt::format("presence.{}", key.str());
        const NumericKey* numeric_key = nullptr;
        for (const NumericKey& candidate : kPresenceKeys) {
            if (name == candidate.name) numeric_key = &candidate;
        }
        bool ok = true;
        if (numeric_key != nullptr) {
            ok = numeric(*numeric_key, value, config);
        } else if (key.str() == "visibility") {
            ok = string(name, value, config.presence_visibility);
            const std::string& v = config.presence_visibility;
            if (ok && v != "contacts" && v != "all") {
                return fail(value.source(),
                            fmt::format("presence.visibility '{}' is not one of contacts | all", v));
            }
        } else if (key.str() == "device_policy") {
            ok = string(name, value, config.presence_device_policy);
            const std::string& v = config.presence_device_policy;
            if (ok && v != "replace_oldest" && v != "reject_new") {
                return fail(value.source(),
                            fmt::format("presence.device_policy '{}' is not one of replace_oldest "
                                        "| reject_new", v));
            }
        } else {
            return fail(key.source(), fmt::format("unknown key '{}'", name));
        }
        if (!ok) return false;
    }
    return true;
}

bool Parser::streams(const toml::node& node, core::Config& config) {
    const auto* table = node.as_table();
    if (table == nullptr) return fail(node.source(), "streams must be a table: write [streams]");
    for (auto&& [key, value] : *table) {
        const std::string name = fmt::format("streams.{}", key.str());
        const NumericKey* numeric_key = nullptr;
        for (const NumericKey& candidate : kStreamsKeys)
            if (name == candidate.name) numeric_key = &candidate;
        bool ok = true;
        if (numeric_key != nullptr) {
            ok = numeric(*numeric_key, value, config);
        } else if (key.str() == "policy") {
            ok = string(name, value, config.streams_policy);
            const std::string& v = config.streams_policy;
            if (ok && v != "reject_new" && v != "drop_oldest")
                return fail(value.source(),
                            fmt::format("streams.policy '{}' is not one of reject_new | drop_oldest", v));
        } else {
            return fail(key.source(), fmt::format("unknown key '{}'", name));
        }
        if (!ok) return false;
    }
    return true;
}

bool Parser::listener(const toml::table& table, core::ListenerConfig& out) {
    const toml::node* address = nullptr;
    const toml::node* port = nullptr;
    // Keys that belong to some types only, to say which one a misplaced key needs.
    const toml::node* tls_key = nullptr;
    const toml::node* ws_key = nullptr;
    const toml::node* proxy_key = nullptr;
    std::string tls_key_name, ws_key_name;
    for (auto&& [key, node] : table) {
        const std::string_view name = key.str();
        const std::string full = "listeners." + std::string(name);
        if (name == "type") {
            if (!string(full, node, out.type)) return false;
            if (out.type != "tcp" && out.type != "tls" && out.type != "ws" && out.type != "wss" &&
                out.type != "unix") {
                return fail(node.source(), fmt::format("listener type '{}' is not supported "
                                                       "(tcp | tls | ws | wss | unix)", out.type));
            }
        } else if (name == "address") {
            if (!string(full, node, out.address)) return false;
            if (out.address.empty()) return fail(node.source(), "listener address is empty");
            address = &node;
        } else if (name == "port") {
            const auto* value = node.as_integer();
            if (value == nullptr) {
                return fail(node.source(), fmt::format("listeners.port must be an integer, not {}",
                                                       type_name(node.type())));
            }
            if (value->get() < 0 || value->get() > 65535) {
                return fail(node.source(), fmt::format("listeners.port = {} is out of range "
                                                       "(0..65535)", value->get()));
            }
            out.port = static_cast<uint16_t>(value->get());
            port = &node;
        } else if (name == "cert_file" || name == "key_file" || name == "ca_file") {
            std::string& target = name == "cert_file" ? out.cert_file
                                  : name == "key_file" ? out.key_file
                                                       : out.ca_file;
            if (!string(full, node, target)) return false;
            target = target.empty() ? target : resolve(target);
            tls_key = &node;
            tls_key_name = full;
        } else if (name == "require_certificate" || name == "use_identity_as_username") {
            bool& target = name == "require_certificate" ? out.require_certificate
                                                         : out.use_identity_as_username;
            if (!boolean(full, node, target)) return false;
            tls_key = &node;
            tls_key_name = full;
        } else if (name == "tls_version") {
            if (!string(full, node, out.tls_version)) return false;
            if (out.tls_version != "tlsv1.2" && out.tls_version != "tlsv1.3") {
                return fail(node.source(), fmt::format("listeners.tls_version '{}' is not one of "
                                                       "tlsv1.2 | tlsv1.3", out.tls_version));
            }
            tls_key = &node;
            tls_key_name = full;
        } else if (name == "allowed_origins") {
            const auto* array = node.as_array();
            if (array == nullptr) {
                return fail(node.source(), "listeners.allowed_origins must be an array of "
                                           "strings, such as [\"https://chat.example.com\"]");
            }
            out.allowed_origins.clear();
            for (const toml::node& item : *array) {
                std::string origin;
                if (!string(full, item, origin)) return false;
                out.allowed_origins.push_back(std::move(origin));
            }
            ws_key = &node;
            ws_key_name = full;
        } else if (name == "http_dir") {
            if (!string(full, node, out.http_dir)) return false;
            out.http_dir = out.http_dir.empty() ? out.http_dir : resolve(out.http_dir);
            ws_key = &node;
            ws_key_name = full;
        } else if (name == "trust_x_forwarded_for") {
            if (!boolean(full, node, out.trust_x_forwarded_for)) return false;
            ws_key = &node;
            ws_key_name = full;
        } else if (name == "proxy_protocol") {
            if (!boolean(full, node, out.proxy_protocol)) return false;
            proxy_key = &node;
        } else {
            return fail(key.source(), fmt::format("unknown key '{}'", full));
        }
    }
    if (out.type == "unix") {
        if (address == nullptr) {
            return fail(table.source(), "a unix listener needs address = \"/path/to/socket\"");
        }
        if (port != nullptr) return fail(port->source(), "a unix listener has no port");
        out.address = resolve(out.address);
        // sockaddr_un.sun_path holds 108 bytes including the terminating NUL.
        if (out.address.size() > 107) {
            return fail(address->source(),
                        fmt::format("unix socket path is too long ({} bytes, at most 107)",
                                    out.address.size()));
        }
        out.port = 0;
    } else if (port == nullptr) {
        out.port = out.type == "tls" ? 8883 : out.type == "ws" ? 8080 : out.type == "wss" ? 8443 : 1883;
    }
    if (tls_key != nullptr && !out.is_tls()) {
        return fail(tls_key->source(), fmt::format("{} is for tls and wss listeners, not {}",
                                                   tls_key_name, out.type));
    }
    if (ws_key != nullptr && !out.is_websocket()) {
        return fail(ws_key->source(), fmt::format("{} is for ws and wss listeners, not {}",
                                                  ws_key_name, out.type));
    }
    if (proxy_key != nullptr && out.type != "tcp" && out.type != "tls") {
        return fail(proxy_key->source(), fmt::format("listeners.proxy_protocol is for tcp and tls "
                                                     "listeners, not {} (a ws or wss listener "
                                                     "behind a proxy: trust_x_forwarded_for)",
                                                     out.type));
    }
    if (out.is_tls()) {
        if (out.cert_file.empty() || out.key_file.empty()) {
            return fail(table.source(), fmt::format("a {} listener needs cert_file and key_file",
                                                    out.type));
        }
        if (out.require_certificate && out.ca_file.empty()) {
            return fail(table.source(), "require_certificate = true needs ca_file (the CAs that "
                                        "sign client certificates)");
        }
        if (out.use_identity_as_username && !out.require_certificate) {
            return fail(table.source(), "use_identity_as_username = true needs "
                                        "require_certificate = true");
        }
    }
    return true;
}

// [auth]: JWT keys and the limits of identity checks (SPEC 2). Key files are only named here;
// heraldd reads them at start (and --test-config checks that they load).
bool Parser::auth(const toml::node& node, core::AuthConfig& out) {
    const auto* table = node.as_table();
    if (table == nullptr) return fail(node.source(), "auth must be a table: write [auth]");
    for (auto&& [key, value] : *table) {
        const std::string_view name = key.str();
        const std::string full = "auth." + std::string(name);
        if (name == "jwt_hs256_secret" || name == "jwt_audience" || name == "jwt_issuer") {
            std::string& target = name == "jwt_hs256_secret" ? out.jwt_hs256_secret
                                  : name == "jwt_audience"   ? out.jwt_audience
                                                             : out.jwt_issuer;
            if (!string(full, value, target)) return false;
            if (name == "jwt_hs256_secret" && !target.empty() && target.size() < 32)
                return fail(value.source(), fmt::format("auth.jwt_hs256_secret is {} bytes; at least 32 are "
                                                        "needed (RFC 7518 3.2)", target.size()));
        } else if (name == "jwt_hs256_secret_file" || name == "jwt_rs256_public_key_file" ||
                   name == "jwt_es256_public_key_file") {
            std::string& target = name == "jwt_hs256_secret_file"       ? out.jwt_hs256_secret_file
                                  : name == "jwt_rs256_public_key_file" ? out.jwt_rs256_public_key_file
                                                                        : out.jwt_es256_public_key_file;
            if (!string(full, value, target)) return false;
            target = resolve(target);
        } else if (name == "jwt_require_exp") {
            if (!boolean(full, value, out.jwt_require_exp)) return false;
        } else if (name == "jwt_leeway" || name == "max_pending_checks" || name == "max_user_id_bytes") {
            const auto* integer = value.as_integer();
            const auto [min, max] = name == "jwt_leeway"           ? std::pair<int64_t, int64_t>{0, 3600}
                                    : name == "max_pending_checks" ? std::pair<int64_t, int64_t>{1, 100000}
                                                                   : std::pair<int64_t, int64_t>{1, 65535};
            if (integer == nullptr)
                return fail(value.source(), fmt::format("{} must be an integer, not {}", full, type_name(value.type())));
            if (integer->get() < min || integer->get() > max)
                return fail(value.source(),
                            fmt::format("{} = {} is out of range ({}..{})", full, integer->get(), min, max));
            const auto v = static_cast<uint32_t>(integer->get());
            if (name == "jwt_leeway") out.jwt_leeway = v;
            else if (name == "max_pending_checks") out.max_pending_checks = v;
            else out.max_user_id_bytes = v;
        } else {
            return fail(key.source(), fmt::format("unknown key '{}'", full));
        }
    }
    if (!out.jwt_hs256_secret.empty() && !out.jwt_hs256_secret_file.empty())
        return fail(node.source(), "auth: give jwt_hs256_secret or jwt_hs256_secret_file, not both");
    return true;
}

std::string Parser::resolve(const std::string& path) const {
    const std::filesystem::path p(path);
    if (path.empty() || p.is_absolute() || base_.empty()) return path;
    return (base_ / p).lexically_normal().string();
}

}  // namespace

bool parse_config(std::string_view text, const std::string& origin, core::Config& out,
                  std::string& error) {
    toml::table root;
    try {
        root = toml::parse(text, origin);
    } catch (const toml::parse_error& e) {
        error = fmt::format("{}:{}: {}", origin, e.source().begin.line, e.description());
        return false;
    }
    core::Config config;
    Parser parser(origin, error);
    // The default data_dir, like a written one, lives beside the config file.
    config.data_dir = parser.resolve(config.data_dir);
    if (!parser.parse(root, config)) return false;
    out = std::move(config);
    return true;
}

bool load_config_file(const std::string& path, core::Config& out, std::string& error) {
    std::ifstream file(path, std::ios::binary);
    if (!file) {
        error = fmt::format("cannot read {}: {}", path, std::strerror(errno));
        return false;
    }
    std::ostringstream text;
    text << file.rdbuf();
    if (file.bad()) {
        error = fmt::format("cannot read {}: {}", path, std::strerror(errno));
        return false;
    }
    return parse_config(text.str(), path, out, error);
}

}  // namespace herald::config
