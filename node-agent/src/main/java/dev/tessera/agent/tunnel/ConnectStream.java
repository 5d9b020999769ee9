package dev.tessera.agent.tunnel;

import static java.util.Objects.requireNonNull;

import dev.tessera.agent.proxy.CloseReason;
import dev.tessera.agent.proxy.ConnectionContext;
import dev.tessera.agent.proxy.ConnectionContext.Direction;
import dev.tessera.agent.proxy.ConnectionContext.RouteKind;
import dev.tessera.agent.proxy.ConnectionListener;
import dev.tessera.agent.proxy.InboundGate;
import dev.tessera.agent.proxy.RelayEndpoint;
import dev.tessera.agent.proxy.RelaySession;
import dev.tessera.agent.proxy.StreamEndpoint;
import dev.tessera.agent.proxy.TcpEndpoint;
import dev.tessera.agent.state.StateStore;
import dev.tessera.common.identity.SpiffeId;
import dev.tessera.common.model.MeshSnapshot;
import dev.tessera.common.model.Workload;
import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ConnectTimeoutException;
import io.netty.handler.codec.http2.DefaultHttp2HeadersFrame;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.codec.http2.Http2HeadersFrame;
import io.netty.util.ReferenceCountUtil;
import java.net.InetSocketAddress;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Server side of one HBONE stream: reads the CONNECT, checks it ({@link InboundRoute}), connects to the
 * pod, answers {@code 200} and hands the stream and the pod connection to the relay. Refusals answer an
 * HTTP error status with the reason and end the stream.
 */
final class ConnectStream extends ChannelInboundHandlerAdapter {

    private static final Logger log = LoggerFactory.getLogger(ConnectStream.class);

    private final String nodeName;
    private final StateStore state;
    private final ConnectionListener listener;
    private final Bootstrap upstream;
    private final SpiffeId localIdentity;
    private final SpiffeId peerIdentity;
    private final InetSocketAddress peerAddress;
    private final InboundGate gate;
    private boolean started;

    ConnectStream(String nodeName, StateStore state, ConnectionListener listener, Bootstrap upstream,
            SpiffeId localIdentity, SpiffeId peerIdentity, InetSocketAddress peerAddress, InboundGate gate) {
        this.nodeName = requireNonNull(nodeName, "nodeName");
        this.state = requireNonNull(state, "state");
        this.listener = requireNonNull(listener, "listener");
        this.upstream = requireNonNull(upstream, "upstream");
        this.localIdentity = localIdentity;
        this.peerIdentity = requireNonNull(peerIdentity, "peerIdentity");
        this.peerAddress = requireNonNull(peerAddress, "peerAddress");
        this.gate = requireNonNull(gate, "gate");
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        ctx.channel().config().setAutoRead(false);
        ctx.read();
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        try {
            if (msg instanceof Http2HeadersFrame h && !started) {
                started = true;
                onConnect(ctx, h.headers());
            } else {
                ctx.read();
            }
        } finally {
            ReferenceCountUtil.release(msg);
        }
    }

    private void onConnect(ChannelHandlerContext ctx, Http2Headers request) {
        long received = System.nanoTime();
        MeshSnapshot snapshot = state.current();
        ConnectionContext context = source(snapshot, request);
        InboundRoute route = InboundRoute.resolve(request, snapshot, nodeName, localIdentity);
        context = context.withDestination(route.target())
                .withTarget(route.workload(), route.workload() == null ? null : route.workload().identity())
                .withRoute(RouteKind.LOCAL, null);
        RelaySession session = new RelaySession(context, listener, received);
        session.mark("route");
        Channel stream = ctx.channel();
        stream.closeFuture().addListener(f -> session.close());
        if (!route.allowed()) {
            refuse(ctx, session, route.refusal(), request.authority() + " for " + peerIdentity);
            return;
        }
        String denied = gate.admit(session, stream); // authorization: peer identity, workload and port are known
        if (denied != null) {
            refuse(ctx, session, CloseReason.POLICY_DENIED, denied);
            return;
        }
        session.mark("policy");
        upstream.clone(stream.eventLoop()).connect(route.target()).addListener((ChannelFutureListener) f -> {
            session.mark("dialled");
            if (!f.isSuccess()) {
                CloseReason why = f.cause() instanceof ConnectTimeoutException
                        ? CloseReason.UPSTREAM_TIMEOUT : CloseReason.UPSTREAM_CONNECT_FAILED;
                refuse(ctx, session, why, route.target() + ": " + f.cause().getMessage());
                return;
            }
            Channel pod = f.channel();
            if (!stream.isActive()) {
                pod.close();
                return;
            }
            ctx.writeAndFlush(new DefaultHttp2HeadersFrame(Hbone.accepted(), false));
            session.mark("200-sent");
            ctx.pipeline().remove(this);
            RelayEndpoint.start(new StreamEndpoint(stream, session, true, CloseReason.TUNNEL_RESET),
                    new TcpEndpoint(pod, session, false, CloseReason.UPSTREAM_RESET));
        });
    }

    /** The context's source: the peer's verified identity, and its workload when the hint matches it. */
    private ConnectionContext source(MeshSnapshot snapshot, Http2Headers request) {
        InetSocketAddress client = peerAddress;
        Workload workload = null;
        CharSequence hint = request.get(Hbone.SOURCE_HEADER);
        if (hint != null) {
            try {
                InetSocketAddress src = Hbone.parseAuthority(hint);
                Workload w = snapshot.workloadByIp(src.getAddress()).orElse(null);
                if (w != null && w.identity().equals(peerIdentity)) { // never trust the hint beyond the identity
                    workload = w;
                    client = src;
                }
            } catch (IllegalArgumentException ignored) {
                // an unusable hint is ignored: the identity is what counts
            }
        }
        return ConnectionContext.accepted(Direction.INBOUND, client).withSource(workload, peerIdentity);
    }

    private void refuse(ChannelHandlerContext ctx, RelaySession session, CloseReason reason, String detail) {
        log.debug("HBONE CONNECT refused ({}): {}", reason, detail);
        session.fail(reason);
        ctx.writeAndFlush(new DefaultHttp2HeadersFrame(Hbone.refused(reason), true))
                .addListener(ChannelFutureListener.CLOSE);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        log.debug("HBONE stream failed", cause);
        ctx.close();
    }
}
