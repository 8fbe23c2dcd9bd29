// The static files of http_dir: which paths resolve (never outside the directory) and the
// Content-Type of each extension.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>

#include <unistd.h>

#include "broker/net/http_files.h"

namespace fs = std::filesystem;
using herald::net::content_type_for;
using herald::net::read_http_file;
using herald::net::resolve_http_file;

namespace {

struct Site {
    fs::path base = fs::temp_directory_path() / ("herald-http-" + std::to_string(getpid()));
    fs::path root = base / "site";
    Site() {
        fs::remove_all(base);
        fs::create_directories(root / "js");
        write(root / "index.html", "<p>hi</p>");
        write(root / "js" / "app.js", "let a;");
        write(root / "js" / "index.html", "js index");
        write(base / "secret.txt", "secret");
        fs::create_symlink(base / "secret.txt", root / "out.txt");
        fs::create_symlink(root / "index.html", root / "in.html");
    }
    ~Site() { fs::remove_all(base); }
    static void write(const fs::path& p, const char* text) { std::ofstream(p) << text; }
    std::string real(const fs::path& p) const { return fs::canonical(p).string(); }
};

}  // namespace

TEST_CASE("paths inside http_dir resolve, directories to their index.html") {
    Site site;
    const std::string root = site.root.string();
    CHECK(resolve_http_file(root, "/") == site.real(site.root / "index.html"));
    CHECK(resolve_http_file(root, "/index.html?v=3") == site.real(site.root / "index.html"));
    CHECK(resolve_http_file(root, "/js/app.js") == site.real(site.root / "js" / "app.js"));
    CHECK(resolve_http_file(root, "/js/") == site.real(site.root / "js" / "index.html"));
    CHECK(resolve_http_file(root, "/js") == site.real(site.root / "js" / "index.html"));
    CHECK(resolve_http_file(root, "/in.html") == site.real(site.root / "index.html"));
}

TEST_CASE("traversal, odd paths and missing files are refused") {
    Site site;
    const std::string root = site.root.string();
    CHECK_FALSE(resolve_http_file(root, "/../secret.txt"));
    CHECK_FALSE(resolve_http_file(root, "/js/../../secret.txt"));
    CHECK_FALSE(resolve_http_file(root, "/js/.."));
    CHECK_FALSE(resolve_http_file(root, "/out.txt"));  // a symlink leading outside
    CHECK_FALSE(resolve_http_file(root, "/..\\secret.txt"));
    CHECK_FALSE(resolve_http_file(root, "index.html"));  // not absolute
    CHECK_FALSE(resolve_http_file(root, std::string_view("/index.html\0x", 13)));
    CHECK_FALSE(resolve_http_file(root, "/missing.js"));
    CHECK_FALSE(resolve_http_file((site.base / "nope").string(), "/"));
}

TEST_CASE("content types by extension") {
    CHECK(std::string(content_type_for("/a/index.html")) == "text/html; charset=utf-8");
    CHECK(std::string(content_type_for("x.js")) == "text/javascript; charset=utf-8");
    CHECK(std::string(content_type_for("x.mjs")) == "text/javascript; charset=utf-8");
    CHECK(std::string(content_type_for("x.css")) == "text/css; charset=utf-8");
    CHECK(std::string(content_type_for("x.json")) == "application/json");
    CHECK(std::string(content_type_for("x.js.map")) == "application/json");
    CHECK(std::string(content_type_for("x.png")) == "image/png");
    CHECK(std::string(content_type_for("x.svg")) == "image/svg+xml");
    CHECK(std::string(content_type_for("x.ico")) == "image/x-icon");
    CHECK(std::string(content_type_for("x.txt")) == "text/plain; charset=utf-8");
    CHECK(std::string(content_type_for("x.bin")) == "application/octet-stream");
    CHECK(std::string(content_type_for(".js")) == "application/octet-stream");
}

TEST_CASE("files are read whole, up to a limit") {
    Site site;
    const std::string index = (site.root / "index.html").string();
    CHECK(read_http_file(index, 100) == std::string("<p>hi</p>"));
    CHECK_FALSE(read_http_file(index, 3));
    CHECK_FALSE(read_http_file((site.root / "missing").string(), 100));
}
