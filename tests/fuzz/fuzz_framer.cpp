// Fuzz target: the Framer gives the same frames and the same error however the stream is cut.
// The first byte chooses the maximum packet size and the number of cuts, the next bytes the
// cut points; the rest is the stream. It is fed once whole and once in pieces; any difference
// traps.
#include <algorithm>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "broker/mqtt/framer.h"

using namespace herald::mqtt;

namespace {

struct Run {
    std::vector<std::string> frames;
    FrameError error = FrameError::None;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 1) return 0;
    static constexpr uint32_t kMax[] = {2, 5, 64, 300, 4096, 65536, 1u << 20, 268435460u};
    uint32_t max = kMax[data[0] & 7];
    size_t ncuts = (data[0] >> 3) & 7;
    size_t head = std::min(size, 1 + ncuts);
    std::vector<uint8_t> cut_bytes(data + 1, data + head);
    std::span<const uint8_t> stream(data + head, size - head);

    auto collect = [](Run& run) {
        return [&run](std::span<const uint8_t> f) {
            run.frames.emplace_back(reinterpret_cast<const char*>(f.data()), f.size());
            return true;
        };
    };

    Run whole;
    Framer a(max);
    whole.error = a.feed(stream, collect(whole));

    std::vector<size_t> cuts;
    for (uint8_t c : cut_bytes) cuts.push_back(stream.empty() ? 0 : c % (stream.size() + 1));
    cuts.push_back(stream.size());
    std::sort(cuts.begin(), cuts.end());
    Run pieces;
    Framer b(max);
    size_t pos = 0;
    for (size_t cut : cuts) {
        pieces.error = b.feed(stream.subspan(pos, cut - pos), collect(pieces));
        pos = cut;
        if (pieces.error != FrameError::None) break;
    }
    if (whole.error != pieces.error || whole.frames != pieces.frames) __builtin_trap();
    // Whatever was not delivered as a frame is either buffered or lost to an error.
    size_t delivered = 0;
    for (const auto& f : whole.frames) delivered += f.size();
    if (whole.error == FrameError::None && delivered + a.buffered() != stream.size()) __builtin_trap();
    return 0;
}
