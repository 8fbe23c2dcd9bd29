// UTF-8 string rules and topic name / topic filter syntax (spec 1.5.4, 4.7), and matching.
#pragma once

#include <string_view>

namespace herald::mqtt {

// Well-formed UTF-8 [MQTT-1.5.4-1] without U+0000 [MQTT-1.5.4-2] and without UTF-16
// surrogates (U+D800..U+DFFF); overlong encodings and code points above U+10FFFF refused.
bool valid_utf8(std::string_view s);

// Does `s` contain '+' or '#'?
bool has_wildcard(std::string_view s);

// A topic name for PUBLISH: valid UTF-8, at least 1 byte, at most 65535, no '+' or '#'.
bool valid_topic_name(std::string_view topic);

// A topic filter for SUBSCRIBE/UNSUBSCRIBE: valid UTF-8, at least 1 byte; '#' only as the
// whole last level; '+' only as a whole level. A shared subscription "$share/{group}/{filter}"
// needs a non-empty group without '+', '#' or '/', and a valid non-empty filter after it.
bool valid_topic_filter(std::string_view filter);

// True for "$share/..." filters; splits off the group and the real filter (both views into
// `filter`). Returns false when `filter` is not a shared subscription.
bool split_shared(std::string_view filter, std::string_view& group, std::string_view& real_filter);

// Does `topic` match `filter`? Topics starting with '$' are not matched by a filter whose
// first level is a wildcard [MQTT-4.7.2-1]. Both must be valid.
bool topic_matches(std::string_view filter, std::string_view topic);

}  // namespace herald::mqtt
