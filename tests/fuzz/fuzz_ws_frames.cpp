// Fuzz target: the `herald` client's reader of a server's WebSocket frames
// (tools/client/ws_frames.h). The first byte chooses how many cuts, the next bytes where; the
// rest is the byte stream from the server. Read whole and read in pieces, it must give the same
// binary payload bytes, the same control frames and the same error; any difference traps.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string>
#include <vector>

#include "tools/client/ws_frames.h"

using namespace herald::tools::ws;

namespace {

struct Seen {
    std::string data;                   // binary payload, concatenated
    std::vector<std::string> controls;  // opcode byte + payload of each control frame
    std::string error;
    bool failed = false;
};

void read(FrameReader& reader, std::span<const uint8_t> in, Seen& seen) {
    while (!in.empty() && !seen.failed) {
        FramePart part;
        const size_t used = next_part(reader, in, part);
        if (used > in.size()) abort();
        in = in.subspan(used);
        switch (part.kind) {
            case FramePart::Kind::None:
                if (!in.empty()) abort();  // None only once the input is used up
                break;
            case FramePart::Kind::Data:
                seen.data.append(reinterpret_cast<const char*>(part.data.data()), part.data.size());
                break;
            case FramePart::Kind::Control:
                if (part.data.size() > 125) abort();
                seen.controls.push_back(std::string(1, static_cast<char>(part.opcode)) +
                                        std::string(reinterpret_cast<const char*>(part.data.data()),
                                                    part.data.size()));
                break;
            case FramePart::Kind::Error:
                seen.failed = true;
                seen.error = part.error;
                break;
        }
        if (used == 0 && part.kind == FramePart::Kind::None) break;
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 1) return 0;
    const size_t ncuts = data[0] & 7;
    const size_t head = std::min(size, 1 + ncuts);
    std::vector<size_t> cuts;
    const std::span<const uint8_t> stream(data + head, size - head);
    for (size_t i = 1; i < head; ++i) cuts.push_back(stream.empty() ? 0 : data[i] % (stream.size() + 1));
    std::sort(cuts.begin(), cuts.end());

    FrameReader whole_reader;
    Seen whole;
    read(whole_reader, stream, whole);

    FrameReader piece_reader;
    Seen pieces;
    size_t at = 0;
    for (size_t cut : cuts) {
        read(piece_reader, stream.subspan(at, cut - at), pieces);
        at = cut;
    }
    read(piece_reader, stream.subspan(at), pieces);

    if (whole.failed != pieces.failed || whole.error != pieces.error) abort();
    if (whole.controls != pieces.controls) abort();
    if (whole.data != pieces.data) abort();
    return 0;
}
