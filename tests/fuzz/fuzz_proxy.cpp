// Fuzz target: the PROXY protocol header parser (broker/net/proxy_protocol.h) on any bytes.
// Besides not crashing, its promises to the connection that calls it as bytes arrive:
// - Done: the header is within the input and within the protocol's maximum; the header alone
//   parses the same; every shorter prefix of it is Incomplete (never a false Invalid).
// - Invalid stays Invalid whatever comes after (the connection can be closed at once).
// - Incomplete only while shorter than the longest header.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <span>
#include <vector>

#include "broker/net/proxy_protocol.h"

using namespace herald::net::proxy;

namespace {

bool same_source(const Result& a, const Result& b) {
    if (a.source.has_value() != b.source.has_value()) return false;
    if (!a.source) return true;
    return a.source->family == b.source->family && a.source->port == b.source->port &&
           std::memcmp(a.source->bytes, b.source->bytes, sizeof a.source->bytes) == 0;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::span<const uint8_t> input(data, size);
    const Result whole = parse(input);
    switch (whole.status) {
        case Status::Done: {
            if (whole.length == 0 || whole.length > size || whole.length > kMaxV2Length) abort();
            const Result header = parse(input.first(whole.length));
            if (header.status != Status::Done || header.length != whole.length) abort();
            if (!same_source(header, whole)) abort();
            for (size_t n = 0; n < whole.length; ++n)
                if (parse(input.first(n)).status != Status::Incomplete) abort();
            break;
        }
        case Status::Invalid: {
            if (whole.error.empty()) abort();
            std::vector<uint8_t> longer(data, data + size);
            longer.push_back(size ? data[0] : 0);
            if (parse(longer).status != Status::Invalid) abort();
            break;
        }
        case Status::Incomplete:
            if (size >= kMaxV2Length) abort();
            break;
    }
    return 0;
}
