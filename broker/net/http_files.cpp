// Static files for HTTP on the WebSocket listener (see http_files.h).
#include "broker/net/http_files.h"

#include <array>
#include <filesystem>
#include <fstream>
#include <system_error>
#include <utility>

namespace herald::net {

namespace fs = std::filesystem;

namespace {

// The query string and fragment are not part of the file's name.
std::string_view strip_query(std::string_view path) {
    const size_t cut = path.find_first_of("?#");
    return cut == std::string_view::npos ? path : path.substr(0, cut);
}

bool has_dot_dot_segment(std::string_view path) {
    size_t start = 0;
    while (start <= path.size()) {
        size_t end = path.find('/', start);
        if (end == std::string_view::npos) end = path.size();
        if (path.substr(start, end - start) == "..") return true;
        start = end + 1;
    }
    return false;
}

// True when `inner` is `outer` or below it (both canonical).
bool is_within(const fs::path& outer, const fs::path& inner) {
    auto o = outer.begin();
    auto i = inner.begin();
    for (; o != outer.end(); ++o, ++i) {
        if (i == inner.end() || *o != *i) return false;
    }
    return true;
}

}  // namespace

std::optional<std::string> resolve_http_file(const std::string& root, std::string_view url_path) {
    url_path = strip_query(url_path);
    if (url_path.empty() || url_path.front() != '/') return std::nullopt;
    if (url_path.find('\0') != std::string_view::npos ||
        url_path.find('\\') != std::string_view::npos || has_dot_dot_segment(url_path))
        return std::nullopt;
    std::error_code ec;
    const fs::path base = fs::canonical(root, ec);
    if (ec) return std::nullopt;
    fs::path candidate = base / fs::path(std::string(url_path.substr(1)));
    if (fs::is_directory(candidate, ec)) candidate /= "index.html";
    const fs::path real = fs::canonical(candidate, ec);  // follows symlinks
    if (ec || !is_within(base, real) || !fs::is_regular_file(real, ec)) return std::nullopt;
    return real.string();
}

const char* content_type_for(std::string_view path) {
    static constexpr std::array<std::pair<std::string_view, const char*>, 11> kTypes{{
        {".html", "text/html; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"},
        {".mjs", "text/javascript; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},
        {".json", "application/json"},
        {".png", "image/png"},
        {".svg", "image/svg+xml"},
        {".ico", "image/x-icon"},
        {".txt", "text/plain; charset=utf-8"},
        {".map", "application/json"},
        {".htm", "text/html; charset=utf-8"},
    }};
    for (const auto& [extension, type] : kTypes) {
        if (path.size() > extension.size() && path.ends_with(extension)) return type;
    }
    return "application/octet-stream";
}

std::optional<std::string> read_http_file(const std::string& path, size_t max_bytes) {
    std::error_code ec;
    const uintmax_t size = fs::file_size(path, ec);
    if (ec || size > max_bytes) return std::nullopt;
    std::ifstream in(path, std::ios::binary);
    if (!in) return std::nullopt;
    std::string data(static_cast<size_t>(size), '\0');
    in.read(data.data(), static_cast<std::streamsize>(size));
    if (static_cast<uintmax_t>(in.gcount()) != size) return std::nullopt;
    return data;
}

}  // namespace herald::net
