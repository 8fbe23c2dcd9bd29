// How `herald sub` prints one received message: the payload alone, "topic payload" (-v),
// a -F format string (mosquitto's % codes and \ escapes), or one JSON object per line (--json).
#pragma once

#include <string>
#include <string_view>

#include "broker/mqtt/packets.h"

namespace herald::tools {

enum class OutputMode : uint8_t { Payload, Verbose, Format, Json };

struct OutputOptions {
    OutputMode mode = OutputMode::Payload;
    std::string format;    // for OutputMode::Format
    bool newline = true;   // -N turns it off
};

// Appends the text for one message to `out` (the caller writes it to stdout).
void format_message(const OutputOptions& options, const mqtt::Publish& message, std::string_view topic,
                    std::string& out);

// Base64 (RFC 4648, with padding), for binary payloads in --json.
std::string base64(std::string_view bytes);

}  // namespace herald::tools
