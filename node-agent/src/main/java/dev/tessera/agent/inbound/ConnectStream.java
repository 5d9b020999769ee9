package dev.tessera.agent.inbound;

import static java.util.Objects.requireNonNull;

import dev.tessera.agent.connection.Admission;
import dev.tessera.agent.connection.CloseReason;
import dev.tessera.agent.connection.ConnectionContext.Direction;
import dev.tessera.agent.connection.ConnectionContext.RouteKind;
import dev.tessera.agent.connection.ConnectionContext;
import dev.tessera.agent.connection.ConnectionListener;
import dev.tessera.agent.connection.RelayEndpoint;
import dev.tessera.agent.connection.RelaySession;
import dev.tessera.agent.connection.StreamEndpoint;
import dev.tessera.agent.connection.TcpEndpoint;
import dev.tessera.agent.hbone.Hbone;
import dev.tessera.agent.netty.Delivery;
import dev.tessera.agent.policy.InboundGate;
import dev.tessera.agent.state.StateStore;
import dev.tessera.api.identity.SpiffeId;
import dev.tessera.api.model.MeshSnapshot;
import dev.tessera.api.model.Workload;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ConnectTimeoutException;
import io.netty.handler.codec.http2.DefaultHttp2HeadersFrame;
import io.netty.handler.codec.http2.Http2DataFrame;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.codec.http2.Http2HeadersFrame;
import io.netty.util.ReferenceCountUtil;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Server side of one HBONE stream: reads the CONNECT, checks it ({@link InboundRoute}, then policy), connects
 * to the pod, answers {@code 200} and hands the stream and the pod connection to the relay. Refusals answer
 * an HTTP error status with the reason and end the stream.
 *
 * <p>Early data: a client may send DATA right behind the CONNECT, without waiting for the {@code 200}. Those
 * frames are held here (up to {@link #EARLY_LIMIT} bytes; beyond it this handler stops reading, so the rest
 * waits under HTTP/2 flow control) and reach the pod only after the policy allowed the CONNECT and the dial
 * succeeded, as the relay's first bytes; a refusal, a failed dial or a reset releases them.
 */
final class ConnectStream extends ChannelInboundHandlerAdapter {

    private static final Logger log = LoggerFactory.getLogger(ConnectStream.class);

    /** Early data held before the pod is connected, at most (then reading pauses until the relay runs). */
    static final int EARLY_LIMIT = 64 * 1024;

    private final String nodeName;
    private final StateStore state;
    private final ConnectionListener listener;
    private final Delivery upstream;
    private final SpiffeId localIdentity;
    private final SpiffeId peerIdentity;
    private final InetSocketAddress peerAddress;
    private final InboundGate gate;
    private final List<Object> early = new ArrayList<>(0);
    private int earlyBytes;
    private boolean started;
    private boolean relaying;
    private ChannelHandlerContext ctx;

    ConnectStream(String nodeName, StateStore state, ConnectionListener listener, Delivery upstream,
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
        this.ctx = ctx;
        ctx.channel().config().setAutoRead(false);
        ctx.read();
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (!started) {
            try {
                if (msg instanceof Http2HeadersFrame h) {
                    started = true;
                    onConnect(ctx, h.headers());
                }
            } finally {
                ReferenceCountUtil.release(msg);
            }
            return;
        }
        if (relaying && early.isEmpty()) {
            ctx.fireChannelRead(msg); // the relay exists and everything held went to it
            return;
        }
        // Early data (or the client's END_STREAM / a reset) behind the CONNECT: held until the relay exists.
        if (msg instanceof Http2DataFrame data) {
            earlyBytes += data.content().readableBytes();
        }
        early.add(msg);
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        if (relaying) {
            ctx.fireChannelReadComplete();
        } else if (!started || earlyBytes < EARLY_LIMIT) {
            ctx.read(); // the CONNECT, or more early data; past the limit it waits under flow control
        }
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
        early.forEach(ReferenceCountUtil::release);
        early.clear();
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
        String denied = Admission.admit(gate, session, stream); // authorization: peer identity, workload and port are known
        if (denied != null) {
            refuse(ctx, session, CloseReason.POLICY_DENIED, denied);
            return;
        }
        session.mark("policy");
        // From the client pod's address when the hint was verified (a pod of the peer's identity on the peer's
        // node, see source()); otherwise from this node's address (counted by the Delivery).
        InetAddress from = context.sourceWorkload() == null ? null : context.client().getAddress();
        var dialled = upstream.dial(stream.eventLoop(), from, route.target());
        dialled.addListener(f -> {
            session.mark("dialled");
            if (!f.isSuccess()) {
                CloseReason why = f.cause() instanceof ConnectTimeoutException
                        ? CloseReason.UPSTREAM_TIMEOUT : CloseReason.UPSTREAM_CONNECT_FAILED;
                log.debug("dial of {} failed", route.target(), f.cause());
                refuse(ctx, session, why, route.target() + ": " + f.cause());
                return;
            }
            Channel pod = dialled.getNow();
            if (!stream.isActive()) {
                pod.close();
                return;
            }
            ctx.writeAndFlush(new DefaultHttp2HeadersFrame(Hbone.accepted(), false));
            session.mark("200-sent");
            startRelay(new StreamEndpoint(stream, session, true, CloseReason.TUNNEL_RESET),
                    new TcpEndpoint(pod, session, false, CloseReason.UPSTREAM_RESET));
        });
    }

    /** Installs the relay behind this handler, hands it the early data (its first bytes), and steps aside. */
    private void startRelay(RelayEndpoint streamSide, RelayEndpoint podSide) {
        relaying = true;
        RelayEndpoint.start(streamSide, podSide);
        boolean any = !early.isEmpty();
        while (!early.isEmpty()) { // frames the relay's first read delivers meanwhile queue up behind these
            ctx.fireChannelRead(early.remove(0));
        }
        if (any) {
            ctx.fireChannelReadComplete(); // flushes into the pod and reads on while it is writable
        }
        ctx.pipeline().remove(this);
    }

    /**
     * The context's source: the peer's verified identity, and its workload when the hint names a pod of that
     * identity on the peer's node; otherwise the connection is recorded with the peer's (node) address.
     */
    private ConnectionContext source(MeshSnapshot snapshot, Http2Headers request) {
        InetSocketAddress client = peerAddress;
        Workload workload = null;
        CharSequence hint = request.get(Hbone.SOURCE_HEADER);
        if (hint != null) {
            try {
                InetSocketAddress src = Hbone.parseAuthority(hint);
                Workload w = snapshot.workloadByIp(src.getAddress()).orElse(null);
                // Never trust the hint beyond what the peer proved: a pod of its identity, on its own node (an
                // agent only holds certificates for pods of its node, so it cannot speak for pods elsewhere).
                var itsNode = w == null ? null : snapshot.nodes().get(w.node());
                if (w != null && w.identity().equals(peerIdentity) && itsNode != null
                        && itsNode.ip().equals(peerAddress.getAddress())) {
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
