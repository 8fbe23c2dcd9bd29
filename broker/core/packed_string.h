// PackedString: an immutable string in one pointer, for the per-session strings (client id)
// that a broker holds once per connection, most of them idle.
//
// Why not std::string: it takes 32 bytes in the Session, and a client id longer than 15 bytes
// (the common case: "app-3f2a9c1e-phone") allocates besides. A PackedString takes 8 bytes and
// one allocation holding the length, the bytes and a NUL. That is what keeps heraldd's memory
// per idle connection at or below mosquitto's (bench/idle_memory.py).
//
// It converts to std::string_view (and to std::string when a copy is wanted), compares with
// anything string-like, and is replaced as a whole by assignment; it is never modified in place.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <string_view>

namespace herald::core {

class PackedString {
public:
    PackedString() = default;
    PackedString(std::string_view text) { assign(text); }  // NOLINT: implicit, like std::string
    PackedString(const PackedString& other) { assign(other.view()); }
    PackedString(PackedString&& other) noexcept : block_(other.block_) { other.block_ = nullptr; }
    PackedString& operator=(const PackedString& other) {
        if (this != &other) assign(other.view());
        return *this;
    }
    PackedString& operator=(PackedString&& other) noexcept {
        if (this != &other) {
            std::free(block_);
            block_ = other.block_;
            other.block_ = nullptr;
        }
        return *this;
    }
    PackedString& operator=(std::string_view text) {
        assign(text);
        return *this;
    }
    ~PackedString() { std::free(block_); }

    std::string_view view() const {
        return block_ ? std::string_view(chars(), length()) : std::string_view();
    }
    operator std::string_view() const { return view(); }  // NOLINT: implicit on purpose
    explicit operator std::string() const { return std::string(view()); }
    std::string str() const { return std::string(view()); }

    size_t size() const { return block_ ? length() : 0; }
    bool empty() const { return size() == 0; }
    const char* data() const { return block_ ? chars() : ""; }
    const char* c_str() const { return data(); }

    friend bool operator==(const PackedString& a, std::string_view b) { return a.view() == b; }
    friend bool operator==(const PackedString& a, const PackedString& b) { return a.view() == b.view(); }
    friend bool operator==(const PackedString& a, const std::string& b) { return a.view() == b; }
    friend bool operator==(const PackedString& a, const char* b) { return a.view() == b; }

private:
    // The block: a uint32_t length, then the bytes, then a NUL (for c_str()).
    uint32_t length() const {
        uint32_t n;
        std::memcpy(&n, block_, sizeof n);
        return n;
    }
    const char* chars() const { return block_ + sizeof(uint32_t); }

    void assign(std::string_view text) {
        char* fresh = nullptr;
        if (!text.empty()) {
            const auto n = static_cast<uint32_t>(text.size());
            fresh = static_cast<char*>(std::malloc(sizeof n + text.size() + 1));
            if (!fresh) throw std::bad_alloc();
            std::memcpy(fresh, &n, sizeof n);
            std::memcpy(fresh + sizeof n, text.data(), text.size());
            fresh[sizeof n + text.size()] = '\0';
        }
        std::free(block_);
        block_ = fresh;
    }

    char* block_ = nullptr;  // null for the empty string
};

}  // namespace herald::core
