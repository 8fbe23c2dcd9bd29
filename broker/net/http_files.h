// The static files of a WebSocket listener's http_dir: which file a URL path names (never one
// outside the directory), and the Content-Type its extension calls for.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace herald::net {

// The file under `root` that `url_path` names ("/" and directories: their index.html), or
// nothing when the path is refused: not absolute, has "..", a NUL or a backslash, or resolves
// (symlinks followed) outside `root`, or names no regular file. `root` must exist.
std::optional<std::string> resolve_http_file(const std::string& root, std::string_view url_path);

// "text/html; charset=utf-8" for .html, ... "application/octet-stream" when unknown.
const char* content_type_for(std::string_view path);

// The whole file, or nothing when it cannot be read or is larger than `max_bytes`.
std::optional<std::string> read_http_file(const std::string& path, size_t max_bytes);

}  // namespace herald::net
