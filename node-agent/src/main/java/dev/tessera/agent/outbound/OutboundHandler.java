package dev.tessera.agent.outbound;

import static java.util.Objects.requireNonNull;

import dev.tessera.agent.connection.Admission;
import dev.tessera.agent.connection.CloseReason;
import dev.tessera.agent.connection.ConnectionContext.Direction;
import dev.tessera.agent.connection.ConnectionContext;
import dev.tessera.agent.connection.ConnectionListener;
import dev.tessera.agent.connection.RelayEndpoint;
import dev.tessera.agent.connection.RelaySession;
import dev.tessera.agent.connection.StreamEndpoint;
import dev.tessera.agent.connection.TcpEndpoint;
import dev.tessera.agent.hbone.EarlyData;
import dev.tessera.agent.hbone.HbonePool;
import dev.tessera.agent.hbone.PoolKey;
import dev.tessera.agent.hbone.TunnelException;
import dev.tessera.agent.netty.Delivery;
import dev.tessera.agent.policy.InboundGate;
import dev.tessera.agent.redirect.OriginalDestinations;
import dev.tessera.agent.state.StateStore;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.ConnectTimeoutException;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.channel.socket.DuplexChannel;
import io.netty.channel.unix.Socket;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.util.ReferenceCountUtil;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One captured connection, top to bottom: original destination -> route (source and destination
 * workloads, {@link OutboundRoute}) -> connect (HBONE stream, local pod or passthrough) -> relay. Every
 * stage either passes the context on or closes the application's connection (RST) with a reason.
 */
final class OutboundHandler extends ChannelInboundHandlerAdapter {

    private static final Logger log = LoggerFactory.getLogger(OutboundHandler.class);

    /** Early data sent with a CONNECT, at most (a first flight: an HTTP request, a TLS ClientHello). */
    static final int EARLY_DATA_MAX = 16 * 1024;

    private final String nodeName;
    private final int hbonePort;
    private final StateStore state;
    private final OriginalDestinations originalDestinations;
    private final HbonePool tunnels;
    private final Delivery direct;
    private final ConnectionListener listener;
    private final InboundGate gate;
    private final List<Object> early = new ArrayList<>(0);
    private boolean earlyEof;
    private ChannelHandlerContext ctx;
    private RelaySession session;
    /** Early data of a CONNECT awaiting its answer (HBONE route), else null. */
    private EarlyData pending;

    OutboundHandler(String nodeName, int hbonePort, StateStore state, OriginalDestinations originalDestinations,
            HbonePool tunnels, Delivery direct, ConnectionListener listener, InboundGate gate) {
        this.nodeName = requireNonNull(nodeName, "nodeName");
        this.hbonePort = hbonePort;
        this.state = requireNonNull(state, "state");
        this.originalDestinations = requireNonNull(originalDestinations, "originalDestinations");
        this.tunnels = requireNonNull(tunnels, "tunnels");
        this.direct = requireNonNull(direct, "direct");
        this.listener = requireNonNull(listener, "listener");
        this.gate = requireNonNull(gate, "gate");
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        long accepted = System.nanoTime();
        Channel app = ctx.channel();
        InetSocketAddress client = (InetSocketAddress) app.remoteAddress();

        // 1. Where was the application going?
        Optional<InetSocketAddress> dst = originalDestinations.take(client);
        if (dst.isEmpty()) {
            reject(app, new RelaySession(ConnectionContext.accepted(Direction.OUTBOUND, client), listener, accepted),
                    CloseReason.NO_ORIGINAL_DST, "no original destination recorded for " + client);
            return;
        }
        long found = System.nanoTime();

        // 2. Who is it, and how is the destination reached?
        OutboundRoute route = OutboundRoute.resolve(state.current(), nodeName, client, dst.get(), hbonePort);
        RelaySession session = new RelaySession(route.context(), listener, accepted);
        session.mark("origdst", found);
        session.mark("route");
        app.closeFuture().addListener(f -> session.close());
        if (route.rejected()) {
            reject(app, session, route.rejection(), client + " -> " + dst.get());
            return;
        }
        this.ctx = ctx;
        this.session = session;

        // 3. Connect, then relay.
        switch (route.context().route()) {
            case HBONE -> connectTunnel(app, session, route);
            case LOCAL -> { // same-node delivery: the destination's inbound policy applies here
                String denied = Admission.admit(gate, session, app);
                if (denied != null) {
                    reject(app, session, CloseReason.POLICY_DENIED, denied);
                } else {
                    // from the client pod's address: the server sees its real client
                    connectDirect(app, session, route.nextHop(), route.context().client().getAddress());
                }
            }
            case PASSTHROUGH -> connectDirect(app, session, route.nextHop(), null);
            default -> reject(app, session, CloseReason.INTERNAL_ERROR, "unknown route " + route.context().route());
        }
    }

    private void connectTunnel(Channel app, RelaySession session, OutboundRoute route) {
        ConnectionContext c = route.context();
        PoolKey key = new PoolKey(c.sourceIdentity(), c.destinationIdentity(), route.nextHop());
        EarlyData sent = new EarlyData();
        ByteBuf already = alreadySent(app);
        if (already != null) {
            sent.add(already);
            session.addFromSource(already.readableBytes()); // goes out with the CONNECT
            session.mark("early-data");
        }
        pending = sent;
        tunnels.connect(key, c.destination(), c.client(), app.eventLoop(), sent).addListener(f -> {
            session.mark("connect-answered");
            pending = null;
            List<ByteBuf> unwritten = sent.takeUnwritten();
            sent.release();
            early.addAll(0, unwritten); // read after the answer, before the relay: the relay sends them first
            if (!f.isSuccess()) {
                reject(app, session, TunnelException.reasonOf(f.cause(), CloseReason.TUNNEL_CONNECT_FAILED),
                        f.cause().getMessage());
                return;
            }
            Http2StreamChannel stream = (Http2StreamChannel) f.getNow();
            if (!app.isActive()) {
                session.fail(CloseReason.CLIENT_RESET);
                stream.close();
                return;
            }
            startRelay(new TcpEndpoint(app, session, true, CloseReason.CLIENT_RESET),
                    new StreamEndpoint(stream, session, false, CloseReason.TUNNEL_RESET));
        });
        if (pending != null) { // awaiting the answer: what the client sends meanwhile follows the CONNECT at once
            readEarly();
        }
    }

    /** Reads more of what the client sends before the CONNECT is answered, up to {@link #EARLY_DATA_MAX}. */
    private void readEarly() {
        if (pending != null && pending.bytes() < EARLY_DATA_MAX && !earlyEof && early.isEmpty()
                && !(ctx.channel() instanceof DuplexChannel d && d.isInputShutdown())) {
            ctx.read();
        }
    }

    /**
     * What the application already sent, read from its socket without waiting (up to {@link #EARLY_DATA_MAX}
     * bytes; the rest is relayed after the CONNECT's answer), to travel with the CONNECT as early data; null
     * when nothing is there yet or the transport is not epoll. A client usually writes its request right
     * after its connect() returned, so by the time the agent has accepted and routed it the request is
     * there: it then reaches the peer agent with the CONNECT instead of one round trip later.
     */
    private static ByteBuf alreadySent(Channel app) {
        if (!(app instanceof EpollSocketChannel epoll) || !epoll.isActive()) {
            return null;
        }
        ByteBuf buf = app.alloc().directBuffer(EARLY_DATA_MAX);
        try {
            int n;
            if (buf.hasMemoryAddress()) {
                n = ((Socket) epoll.fd()).recvAddress(buf.memoryAddress(), 0, buf.capacity());
            } else {
                ByteBuffer nio = buf.internalNioBuffer(0, buf.capacity());
                n = ((Socket) epoll.fd()).recv(nio, nio.position(), nio.limit());
            }
            if (n > 0) {
                buf.writerIndex(n);
                return buf;
            }
        } catch (IOException e) {
            // reset or failed: the relay (or the closed channel) reports it; no early data
        }
        buf.release();
        return null;
    }

    /** @param source the client pod's address to dial from (same-node delivery), or null: from the node */
    private void connectDirect(Channel app, RelaySession session, InetSocketAddress target, InetAddress source) {
        session.mark("dial");
        var dialled = source == null ? direct.dialFromNode(app.eventLoop(), target)
                : direct.dial(app.eventLoop(), source, target);
        dialled.addListener(f -> {
            session.mark("dialled");
            if (!f.isSuccess()) {
                CloseReason why = f.cause() instanceof ConnectTimeoutException
                        ? CloseReason.UPSTREAM_TIMEOUT : CloseReason.UPSTREAM_CONNECT_FAILED;
                reject(app, session, why, target + ": " + f.cause().getMessage());
                return;
            }
            Channel pod = dialled.getNow();
            if (!app.isActive()) {
                session.fail(CloseReason.CLIENT_RESET);
                pod.close();
                return;
            }
            startRelay(new TcpEndpoint(app, session, true, CloseReason.CLIENT_RESET),
                    new TcpEndpoint(pod, session, false, CloseReason.UPSTREAM_RESET));
        });
    }

    /**
     * Installs the relay behind this handler, hands over what arrived early, and steps aside. Epoll
     * delivers data and a FIN that arrive with the peer's shutdown (EPOLLRDHUP) even without a read
     * request, so this handler holds them until the relay exists. Runs on the application's event loop.
     */
    private void startRelay(RelayEndpoint appSide, RelayEndpoint peerSide) {
        RelayEndpoint.start(appSide, peerSide);
        boolean any = !early.isEmpty();
        for (Object msg : early) {
            ctx.fireChannelRead(msg);
        }
        early.clear();
        if (any) {
            ctx.fireChannelReadComplete();
        }
        if (earlyEof) {
            ctx.fireUserEventTriggered(ChannelInputShutdownEvent.INSTANCE);
        }
        ctx.pipeline().remove(this);
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (pending != null && early.isEmpty() && !earlyEof && msg instanceof ByteBuf data) {
            session.addFromSource(data.readableBytes());
            pending.add(data); // early data: on its way behind the CONNECT
            return;
        }
        early.add(msg); // only before the relay exists: see startRelay
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        readEarly();
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt == ChannelInputShutdownEvent.INSTANCE) {
            earlyEof = true;
        } else {
            ctx.fireUserEventTriggered(evt);
        }
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
        if (pending != null) {
            pending.release(); // closed before the answer; the pool's listener finds nothing left to release
        }
        early.forEach(ReferenceCountUtil::release);
        early.clear();
    }

    /** Closes the application's connection with a reset; the session reports the reason. */
    private static void reject(Channel app, RelaySession session, CloseReason reason, String detail) {
        log.debug("outbound connection refused ({}): {}", reason, detail);
        session.fail(reason);
        app.closeFuture().addListener(f -> session.close());
        if (app.isOpen()) {
            app.config().setOption(ChannelOption.SO_LINGER, 0);
            app.close();
        }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        log.debug("outbound connection failed", cause);
        ctx.close();
    }
}
