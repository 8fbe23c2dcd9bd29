// Fuzz target: arbitrary bytes -> Framer (64 KiB limit) -> decode() in both versions.
// Property checked on every frame that decodes: encoding the value and decoding the bytes
// gives a packet again, which encodes to the very same bytes (encode is a fixed point), and
// encoded_size() agrees with encode(). A violation traps.
#include <cstdint>
#include <span>
#include <string>

#include "broker/mqtt/codec.h"
#include "broker/mqtt/framer.h"

using namespace herald::mqtt;

namespace {

void check(std::span<const uint8_t> frame, ProtocolVersion version) {
    DecodeResult r = decode(frame, version);
    if (!r.ok) {
        if (r.error.message.empty()) __builtin_trap();
        return;
    }
    // CONNECT settles its own version; everything else is encoded as it was decoded.
    ProtocolVersion v = version;
    if (const auto* c = std::get_if<Connect>(&r.packet)) v = c->version;
    std::string once;
    encode(r.packet, v, once);
    if (encoded_size(r.packet, v) != once.size()) __builtin_trap();
    DecodeResult again = decode({reinterpret_cast<const uint8_t*>(once.data()), once.size()}, v);
    if (!again.ok) __builtin_trap();
    if (again.packet.index() != r.packet.index()) __builtin_trap();
    std::string twice;
    encode(again.packet, v, twice);
    if (twice != once) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    // The input as one frame, which exercises decode()'s own fixed header checks...
    check({data, size}, ProtocolVersion::V311);
    check({data, size}, ProtocolVersion::V5);
    // ...and as a stream split by the Framer.
    Framer framer(64 * 1024);
    framer.feed({data, size}, [](std::span<const uint8_t> frame) {
        check(frame, ProtocolVersion::V311);
        check(frame, ProtocolVersion::V5);
        return true;
    });
    return 0;
}
