// StreamLayers: what sits between the socket and the Framer of a StreamConnection accepted on
// a tls listener or a listener with proxy_protocol = true: the PROXY header still to come, and
// the TLS session. Plain TCP connections have none: they carry one null pointer for it.
//
// Why an optional pointer rather than a TLS connection class beside StreamConnection: the
// socket, the pooled output, the once-per-turn flush, lingering and the shutdown list are the
// same for both; only the bytes are transformed on the way in and out. A second class would
// repeat all of that (and LoopState would need to know two kinds of connection).
//
// Order on the way in: PROXY header (if the listener trusts one), then TLS, then the Framer.
// On the way out, the turn's plaintext is encrypted just before the write (seal_output).
// The member functions of StreamConnection that use these are in stream_layers.cpp.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "broker/net/tls_session.h"

namespace herald::net {

struct StreamLayers {
    std::unique_ptr<TlsSession> tls;  // type tls
    std::string proxy_partial;        // the start of a PROXY header, while incomplete
    std::string identity;             // the client certificate's CN (use_identity_as_username)
    bool awaiting_proxy = false;      // proxy_protocol: the header has not come yet
    bool use_identity = false;        // use_identity_as_username on this listener
};

}  // namespace herald::net
