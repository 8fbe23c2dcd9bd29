// `-D/--property COMMAND NAME VALUE [VALUE]`, as mosquitto_pub/sub take it: MQTT 5.0
// properties for the CONNECT, PUBLISH, SUBSCRIBE, UNSUBSCRIBE, DISCONNECT packets and the will.
//
// CLI11 cannot split a repeated option of 3 or 4 values per use, so main() lifts these
// arguments out of argv before CLI11 sees the rest (extract_property_args).
#pragma once

#include <string>
#include <vector>

#include "broker/mqtt/properties.h"

namespace herald::tools {

struct PropertyArg {
    std::string command;  // connect, publish, subscribe, unsubscribe, disconnect, will
    std::string name;     // user-property, session-expiry-interval, ...
    std::vector<std::string> values;
};

struct PropertySets {
    mqtt::Properties connect, publish, subscribe, unsubscribe, disconnect, will;
};

// Removes every "-D/--property ..." group from args (args[0] is the program name) and appends
// them to out. Returns an error sentence, or "" when all were well formed.
std::string extract_property_args(std::vector<std::string>& args, std::vector<PropertyArg>& out);

// Sets the properties named in `args` on the matching packet's set. Returns an error sentence
// ("invalid property 'x' for command 'publish'"), or "".
std::string apply_property_args(const std::vector<PropertyArg>& args, PropertySets& sets);

}  // namespace herald::tools
