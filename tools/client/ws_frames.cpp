// RFC 6455 for the client (see ws_frames.h): upgrade, masking, and the frame reader.
#include "tools/client/ws_frames.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <algorithm>
#include <cctype>
#include <cstring>

namespace herald::tools::ws {

namespace {

constexpr std::string_view kGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

std::string base64(const unsigned char* data, size_t size) {
    std::string out(4 * ((size + 2) / 3), '\0');
    const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data, static_cast<int>(size));
    out.resize(static_cast<size_t>(n));
    return out;
}

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
           });
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

// Does the comma-separated header value hold `token` (case-insensitive)? "keep-alive, Upgrade".
bool has_token(std::string_view value, std::string_view token) {
    while (!value.empty()) {
        const size_t comma = value.find(',');
        if (iequals(trim(value.substr(0, comma)), token)) return true;
        if (comma == std::string_view::npos) break;
        value.remove_prefix(comma + 1);
    }
    return false;
}

FramePart error(const char* what) {
    FramePart p;
    p.kind = FramePart::Kind::Error;
    p.error = what;
    return p;
}

// Bytes the header needs in all, once its first two are known.
uint8_t header_size(const FrameReader& r) {
    const uint8_t len7 = r.header[1] & 0x7F;
    return uint8_t(2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0));
}

}  // namespace

std::string make_key() {
    unsigned char raw[16];
    if (RAND_bytes(raw, sizeof raw) != 1) {
        for (size_t i = 0; i < sizeof raw; ++i) raw[i] = static_cast<unsigned char>(i * 37 + 11);
    }
    return base64(raw, sizeof raw);
}

std::string accept_for(std::string_view key) {
    std::string text(key);
    text += kGuid;
    unsigned char digest[SHA_DIGEST_LENGTH];
    SHA1(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest);
    return base64(digest, sizeof digest);
}

std::string upgrade_request(std::string_view host, std::string_view path, std::string_view key,
                            std::string_view protocol) {
    std::string r;
    r.reserve(200);
    r.append("GET ").append(path).append(" HTTP/1.1\r\nHost: ").append(host);
    r.append("\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ").append(key);
    r.append("\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: ").append(protocol).append("\r\n\r\n");
    return r;
}

UpgradeAnswer check_upgrade_answer(std::string_view received, std::string_view key, std::string_view protocol,
                                   size_t max_bytes) {
    UpgradeAnswer a;
    const size_t end = received.find("\r\n\r\n");
    if (end == std::string_view::npos) {
        if (received.size() > max_bytes) {
            a.status = UpgradeAnswer::Status::Refused;
            a.error = "the server's answer to the WebSocket upgrade has no end of headers";
        }
        return a;
    }
    a.consumed = end + 4;
    a.status = UpgradeAnswer::Status::Refused;
    std::string_view head = received.substr(0, end);
    const size_t eol = head.find("\r\n");
    const std::string_view status_line = head.substr(0, eol);
    head = eol == std::string_view::npos ? std::string_view() : head.substr(eol + 2);
    if (!status_line.starts_with("HTTP/1.1 101")) {
        a.error = "the server refused the WebSocket upgrade: '" + std::string(status_line.substr(0, 200)) + "'";
        return a;
    }
    bool upgrade = false, connection = false, accept = false, sub = false;
    std::string got_protocol = "(none)";
    while (!head.empty()) {
        const size_t next = head.find("\r\n");
        const std::string_view line = head.substr(0, next);
        head = next == std::string_view::npos ? std::string_view() : head.substr(next + 2);
        const size_t colon = line.find(':');
        if (colon == std::string_view::npos) continue;
        const std::string_view name = trim(line.substr(0, colon)), value = trim(line.substr(colon + 1));
        if (iequals(name, "Upgrade")) upgrade = iequals(value, "websocket");
        else if (iequals(name, "Connection")) connection = has_token(value, "upgrade");
        else if (iequals(name, "Sec-WebSocket-Accept")) accept = value == accept_for(key);
        else if (iequals(name, "Sec-WebSocket-Protocol")) {
            got_protocol = std::string(value);
            sub = value == protocol;
        }
    }
    if (!upgrade || !connection) a.error = "the server's 101 lacks 'Upgrade: websocket' or 'Connection: Upgrade'";
    else if (!accept) a.error = "the server's Sec-WebSocket-Accept does not match our key";
    else if (!sub) a.error = "the server chose subprotocol " + got_protocol + ", not " + std::string(protocol);
    else a.status = UpgradeAnswer::Status::Ok;
    return a;
}

void append_frame(uint8_t opcode, std::string_view payload, uint32_t mask, std::string& out) {
    const size_t n = payload.size();
    out.push_back(static_cast<char>(0x80 | opcode));
    if (n < 126) {
        out.push_back(static_cast<char>(0x80 | n));
    } else if (n <= 0xFFFF) {
        out.push_back(static_cast<char>(0x80 | 126));
        out.push_back(static_cast<char>(n >> 8));
        out.push_back(static_cast<char>(n & 0xFF));
    } else {
        out.push_back(static_cast<char>(0x80 | 127));
        for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>((uint64_t(n) >> shift) & 0xFF));
    }
    unsigned char m[8];
    for (int i = 0; i < 4; ++i) m[i] = m[i + 4] = static_cast<unsigned char>(mask >> (24 - 8 * i));
    out.append(reinterpret_cast<const char*>(m), 4);
    const size_t at = out.size();
    out.append(payload);
    // XOR eight bytes at a time: a bench frame carries a whole loop turn of packets.
    char* p = out.data() + at;
    uint64_t m8;
    std::memcpy(&m8, m, 8);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t chunk;
        std::memcpy(&chunk, p + i, 8);
        chunk ^= m8;
        std::memcpy(p + i, &chunk, 8);
    }
    for (; i < n; ++i) p[i] = static_cast<char>(p[i] ^ m[i % 4]);
}

uint64_t mask_seed() {
    uint64_t seed = 0;
    if (RAND_bytes(reinterpret_cast<unsigned char*>(&seed), sizeof seed) != 1 || seed == 0) seed = 0x9E3779B97F4A7C15ull;
    return seed;
}

uint32_t next_mask(uint64_t& state) {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return static_cast<uint32_t>(state >> 16);
}

size_t next_part(FrameReader& r, std::span<const uint8_t> in, FramePart& part) {
    part = FramePart{};
    size_t used = 0;
    while (used < in.size()) {
        if (r.stage == FrameReader::Stage::Header) {
            while (used < in.size() && (r.header_have < 2 || r.header_have < header_size(r)))
                r.header[r.header_have++] = in[used++];
            if (r.header_have < 2 || r.header_have < header_size(r)) return used;
            const uint8_t b0 = r.header[0], b1 = r.header[1];
            const uint8_t len7 = b1 & 0x7F;
            uint64_t len = len7;
            if (len7 == 126) len = (uint64_t(r.header[2]) << 8) | r.header[3];
            if (len7 == 127) {
                len = 0;
                for (int i = 2; i < 10; ++i) len = (len << 8) | r.header[i];
            }
            r.header_have = 0;
            if (b0 & 0x70) return part = error("a frame with reserved bits set (no extension was agreed)"), used;
            if (b1 & 0x80) return part = error("a masked frame from the server"), used;
            if (len >> 63) return part = error("a frame length above 2^63"), used;
            const uint8_t op = b0 & 0x0F;
            const bool fin = (b0 & 0x80) != 0;
            if (op >= 0x8) {
                if (op != kOpClose && op != kOpPing && op != kOpPong) return part = error("an unknown control opcode"), used;
                if (!fin || len > 125) return part = error("a fragmented or long control frame"), used;
                r.control.clear();
            } else if (op == kOpText) {
                return part = error("a text frame (MQTT over WebSocket is binary)"), used;
            } else if (op == kOpBinary) {
                if (r.in_message) return part = error("a new message inside an unfinished one"), used;
                r.in_message = !fin;
            } else if (op == kOpContinuation) {
                if (!r.in_message) return part = error("a continuation frame outside a message"), used;
                r.in_message = !fin;
            } else {
                return part = error("an unknown data opcode"), used;
            }
            r.opcode = op;
            r.final_frame = fin;
            r.remaining = len;
            r.stage = FrameReader::Stage::Payload;
            if (len == 0) {
                r.stage = FrameReader::Stage::Header;
                if (op >= 0x8) {
                    part.kind = FramePart::Kind::Control;
                    part.opcode = op;
                    return used;
                }
            }
            continue;
        }
        const size_t take = static_cast<size_t>(std::min<uint64_t>(r.remaining, in.size() - used));
        const std::span<const uint8_t> piece = in.subspan(used, take);
        used += take;
        r.remaining -= take;
        if (r.remaining == 0) r.stage = FrameReader::Stage::Header;
        if (r.opcode >= 0x8) {
            r.control.append(reinterpret_cast<const char*>(piece.data()), piece.size());
            if (r.remaining) continue;
            part.kind = FramePart::Kind::Control;
            part.opcode = r.opcode;
            part.data = {reinterpret_cast<const uint8_t*>(r.control.data()), r.control.size()};
            return used;
        }
        part.kind = FramePart::Kind::Data;
        part.data = piece;
        return used;
    }
    return used;
}

}  // namespace herald::tools::ws
