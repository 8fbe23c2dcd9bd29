// stderr logging in text or JSON lines (see logging.h).
#include "broker/net/logging.h"

#include <memory>

#include <nlohmann/json.hpp>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace herald::net {

namespace {

// %* in the JSON pattern: the message as a JSON string. Log messages carry client ids and
// topics, which may hold any bytes, so invalid UTF-8 is replaced rather than thrown about.
class JsonMessageFlag final : public spdlog::custom_flag_formatter {
public:
    void format(const spdlog::details::log_msg& msg, const std::tm&,
                spdlog::memory_buf_t& dest) override {
        const std::string text(msg.payload.data(), msg.payload.size());
        const std::string quoted =
            nlohmann::json(text).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
        dest.append(quoted.data(), quoted.data() + quoted.size());
    }

    std::unique_ptr<custom_flag_formatter> clone() const override {
        return std::make_unique<JsonMessageFlag>();
    }
};

}  // namespace

void setup_logging(const std::string& program, bool json) {
    auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    auto logger = std::make_shared<spdlog::logger>(program, sink);
    auto formatter = std::make_unique<spdlog::pattern_formatter>(spdlog::pattern_time_type::utc);
    if (json) {
        formatter->add_flag<JsonMessageFlag>('*').set_pattern(
            R"({"time":"%Y-%m-%dT%H:%M:%S.%eZ","level":"%l","pid":%P,"msg":%*})");
    } else {
        formatter->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %l " + program + "[%P]: %v");
    }
    logger->set_formatter(std::move(formatter));
    // Errors must reach the terminal at once; the rest is flushed by line anyway on stderr.
    logger->flush_on(spdlog::level::trace);
    spdlog::set_default_logger(logger);
}

bool set_log_level(const std::string& level) {
    spdlog::level::level_enum value;
    if (level == "trace") value = spdlog::level::trace;
    else if (level == "debug") value = spdlog::level::debug;
    else if (level == "info") value = spdlog::level::info;
    else if (level == "warn") value = spdlog::level::warn;
    else if (level == "error") value = spdlog::level::err;
    else return false;
    spdlog::set_level(value);
    return true;
}

}  // namespace herald::net
