package dev.tessera.agent.inbound;


import static java.util.Objects.requireNonNull;

import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http2.DefaultHttp2PingFrame;
import io.netty.handler.codec.http2.Http2Connection;
import io.netty.handler.codec.http2.Http2ConnectionAdapter;
import io.netty.handler.codec.http2.Http2Stream;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.handler.timeout.IdleStateHandler;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Liveness of one HBONE server connection, after its HTTP/2 codec. When nothing was read for
 * {@code pingAfter} it sends an HTTP/2 PING; if still nothing arrives within the next {@code pingAfter} the
 * peer is gone (a node that vanished without a FIN or RST would otherwise keep its relays and pod sockets
 * open forever) and the connection is closed. A connection that carried no stream for {@code idleTimeout}
 * gets the drain notice and is closed one check later (checks run every half idle timeout, at most every
 * {@code pingAfter}, whatever the peer sends: PINGs or SETTINGS do not keep a connection without streams
 * open), so pooled client connections left unused, or held open on purpose, do not hold server resources
 * for longer than about twice the idle timeout.
 */
final class ConnectionKeepalive extends IdleStateHandler {

    private static final Logger log = LoggerFactory.getLogger(ConnectionKeepalive.class);

    /** What a keepalive closed a connection for (counted by the server). */
    enum Closed { PEER_SILENT, IDLE }

    private final Http2Connection connection;
    private final long idleTimeoutNanos;
    private final LongSupplier clock;
    private final java.util.function.Consumer<Closed> onClose;
    private boolean pingOutstanding;
    private long idleSince;
    private boolean noticeSent;
    private final long checkEveryNanos;
    private java.util.concurrent.ScheduledFuture<?> idleCheck;

    ConnectionKeepalive(Http2Connection connection, Duration pingAfter, Duration idleTimeout,
            java.util.function.Consumer<Closed> onClose) {
        this(connection, pingAfter, idleTimeout, onClose, System::nanoTime);
    }

    ConnectionKeepalive(Http2Connection connection, Duration pingAfter, Duration idleTimeout,
            java.util.function.Consumer<Closed> onClose, LongSupplier clock) {
        super(pingAfter.toMillis(), 0, 0, TimeUnit.MILLISECONDS);
        this.connection = requireNonNull(connection, "connection");
        this.idleTimeoutNanos = idleTimeout.toNanos();
        this.onClose = requireNonNull(onClose, "onClose");
        this.clock = requireNonNull(clock, "clock");
        this.idleSince = clock.getAsLong();
        this.checkEveryNanos = Math.max(TimeUnit.MILLISECONDS.toNanos(50),
                Math.min(pingAfter.toNanos(), idleTimeout.toNanos() / 2));
        connection.addListener(new Http2ConnectionAdapter() {
            @Override
            public void onStreamActive(Http2Stream stream) {
                idleSince = Long.MAX_VALUE; // busy
            }

            @Override
            public void onStreamClosed(Http2Stream stream) {
                if (ConnectionKeepalive.this.connection.numActiveStreams() == 0) {
                    idleSince = ConnectionKeepalive.this.clock.getAsLong();
                }
            }
        });
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) throws Exception {
        super.handlerAdded(ctx);
        idleCheck = ctx.executor().scheduleAtFixedRate(() -> checkIdle(ctx), checkEveryNanos, checkEveryNanos,
                TimeUnit.NANOSECONDS);
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) throws Exception {
        if (idleCheck != null) {
            idleCheck.cancel(false);
        }
        super.handlerRemoved(ctx);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) throws Exception {
        if (idleCheck != null) {
            idleCheck.cancel(false);
        }
        super.channelInactive(ctx);
    }

    /**
     * The idle rule, on the connection's event loop: without a stream for the idle timeout the drain notice
     * goes out (the client stops opening streams here; any in flight are still served); at the next check,
     * still without a stream, the connection is closed.
     */
    void checkIdle(ChannelHandlerContext ctx) {
        if (!ctx.channel().isActive() || connection.numActiveStreams() != 0
                || clock.getAsLong() - idleSince < idleTimeoutNanos) {
            return;
        }
        if (noticeSent) {
            log.debug("HBONE connection {}: idle; closing", ctx.channel().remoteAddress());
            onClose.accept(Closed.IDLE);
            ctx.close();
            return;
        }
        noticeSent = true;
        ctx.writeAndFlush(HboneServer.drainNotice());
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) throws Exception {
        pingOutstanding = false; // anything from the peer (the PING's ACK included) shows it is there
        super.channelRead(ctx, msg);
    }

    @Override
    protected void channelIdle(ChannelHandlerContext ctx, IdleStateEvent evt) {
        if (evt.state() != io.netty.handler.timeout.IdleState.READER_IDLE) {
            return;
        }
        if (pingOutstanding) {
            log.debug("HBONE connection {}: no answer to a keepalive PING; closing", ctx.channel().remoteAddress());
            onClose.accept(Closed.PEER_SILENT);
            ctx.close();
            return;
        }
        pingOutstanding = true;
        ctx.writeAndFlush(new DefaultHttp2PingFrame(clock.getAsLong()));
    }
}
