package dev.tessera.agent.inbound;

import static java.util.Objects.requireNonNull;

import dev.tessera.agent.state.StateStore;
import dev.tessera.agent.tls.TlsContexts;
import dev.tessera.api.identity.SpiffeId;
import dev.tessera.api.model.Workload;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.ssl.SniHandler;
import io.netty.handler.ssl.SslContext;
import io.netty.util.AsyncMapping;
import io.netty.util.concurrent.Future;
import java.util.Optional;

/**
 * Picks the server certificate by SNI: the client names the destination identity
 * ({@link SpiffeId#serverName()}), which must be the identity of a meshed pod on this node for which the
 * node holds a certificate. Anything else (no SNI, unknown name, no certificate) fails the handshake.
 * The chosen identity is stored in {@link HboneServer#LOCAL_IDENTITY}.
 */
final class IdentitySniHandler extends SniHandler {

    private static final AsyncMapping<String, SslContext> UNUSED =
            (name, promise) -> promise.setFailure(new IllegalStateException("unused"));

    private final String nodeName;
    private final StateStore state;
    private final TlsContexts tls;

    IdentitySniHandler(String nodeName, StateStore state, TlsContexts tls, long handshakeTimeoutMillis) {
        super(UNUSED, handshakeTimeoutMillis);
        this.nodeName = requireNonNull(nodeName, "nodeName");
        this.state = requireNonNull(state, "state");
        this.tls = requireNonNull(tls, "tls");
    }

    @Override
    protected Future<SslContext> lookup(ChannelHandlerContext ctx, String hostname) {
        if (hostname == null) {
            return ctx.executor().newFailedFuture(new IllegalArgumentException(
                    "SNI: missing (expected: the destination identity's server name)"));
        }
        for (Workload w : state.current().workloadsOnNode(nodeName)) {
            if (w.meshed() && w.identity().serverName().equals(hostname)) {
                Optional<SslContext> ctxFor = tls.server(w.identity());
                if (ctxFor.isEmpty()) {
                    return ctx.executor().newFailedFuture(new IllegalStateException(
                            "SNI " + hostname + ": no certificate on this node for " + w.identity()));
                }
                ctx.channel().attr(HboneServer.LOCAL_IDENTITY).set(w.identity());
                return ctx.executor().newSucceededFuture(ctxFor.get());
            }
        }
        return ctx.executor().newFailedFuture(new IllegalArgumentException(
                "SNI " + hostname + ": no meshed workload on node " + nodeName + " has this identity"));
    }
}
