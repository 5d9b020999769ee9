package dev.tessera.agent.hbone;

import static java.util.Objects.requireNonNull;

import dev.tessera.agent.connection.CloseReason;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http2.DefaultHttp2HeadersFrame;
import io.netty.handler.codec.http2.Http2GoAwayFrame;
import io.netty.handler.codec.http2.Http2HeadersFrame;
import io.netty.handler.codec.http2.Http2ResetFrame;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.Promise;
import io.netty.util.concurrent.ScheduledFuture;
import java.net.InetSocketAddress;
import java.util.concurrent.TimeUnit;

/**
 * Client side of one HBONE stream before bytes flow: sends {@code CONNECT}, with the bytes the client already
 * sent as early data (DATA frames in the same flush, so the request reaches the peer agent with the
 * CONNECT and a new connection costs one round trip between the agents; bytes the client sends while the
 * answer is on its way follow at once, see {@link EarlyData}), and waits for the response.
 * On {@code 200} it removes itself and completes the promise with the stream (the caller installs the
 * relay); any other answer, a reset or a timeout fails the promise with a {@link TunnelException}. The
 * stream runs with {@code AUTO_READ=false}, so no DATA frame is read before the relay asks for it. The
 * early data is written as retained duplicates: the caller keeps it, so a retry on another connection (an
 * unprocessed stream) sends the same bytes again.
 */
public final class ConnectRequest extends ChannelInboundHandlerAdapter {

    private final InetSocketAddress target;
    private final InetSocketAddress source;
    private final Promise<Http2StreamChannel> result;
    private final long timeoutMillis;
    private final EarlyData early;
    private boolean sent;
    private ScheduledFuture<?> timeout;

    public ConnectRequest(InetSocketAddress target, InetSocketAddress source, Promise<Http2StreamChannel> result,
            long timeoutMillis) {
        this(target, source, null, result, timeoutMillis);
    }

    /** @param early what the client sent so far and sends until the answer (not released here; may be null) */
    public ConnectRequest(InetSocketAddress target, InetSocketAddress source, EarlyData early,
            Promise<Http2StreamChannel> result, long timeoutMillis) {
        this.early = early;
        this.target = requireNonNull(target, "target");
        this.source = source;
        this.result = requireNonNull(result, "result");
        this.timeoutMillis = timeoutMillis;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        if (ctx.channel().isActive()) {
            send(ctx);
        }
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        send(ctx);
        ctx.fireChannelActive();
    }

    private void send(ChannelHandlerContext ctx) {
        if (sent) {
            return;
        }
        sent = true;
        timeout = ctx.executor().schedule(() -> fail(ctx, CloseReason.UPSTREAM_TIMEOUT,
                "no CONNECT response for " + target + " within " + timeoutMillis + " ms"), timeoutMillis, TimeUnit.MILLISECONDS);
        ctx.write(new DefaultHttp2HeadersFrame(Hbone.connectRequest(target, source), false))
                .addListener((ChannelFutureListener) f -> {
                    if (!f.isSuccess()) {
                        fail(ctx, CloseReason.TUNNEL_RESET, "cannot send CONNECT " + target + ": " + f.cause());
                    }
                });
        if (early != null) {
            early.attach(ctx);
        }
        ctx.flush();
        ctx.read();
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        try {
            if (msg instanceof Http2HeadersFrame h) {
                if (Hbone.isAccepted(h.headers())) {
                    timeout.cancel(false);
                    detach(ctx);
                    ctx.pipeline().remove(this);
                    if (!result.trySuccess((Http2StreamChannel) ctx.channel())) {
                        ctx.close();
                    }
                } else {
                    fail(ctx, Hbone.refusalReason(h.headers()),
                            "CONNECT " + target + " refused with status " + h.headers().status());
                }
            } else if (msg instanceof Http2ResetFrame r) {
                fail(ctx, CloseReason.TUNNEL_RESET, "CONNECT " + target + " reset (" + r.errorCode() + ")");
            } else {
                ctx.read(); // nothing else is expected before the response
            }
        } finally {
            ReferenceCountUtil.release(msg);
        }
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt instanceof Http2GoAwayFrame g) {
            try {
                int id = ((Http2StreamChannel) ctx.channel()).stream().id();
                if (id > g.lastStreamId()) { // the server will not process this stream: try another connection
                    unprocessed(ctx, "CONNECT " + target + " on stream " + id + " after GOAWAY (last stream "
                            + g.lastStreamId() + ")");
                    return;
                }
            } finally {
                ReferenceCountUtil.release(evt);
            }
            return;
        }
        ctx.fireUserEventTriggered(evt);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        // No answer and the stream is gone with its connection (e.g. a draining agent closed it while our
        // HEADERS were in flight): the server did not process it.
        boolean connectionGone = !((Http2StreamChannel) ctx.channel()).parent().isActive();
        if (connectionGone) {
            unprocessed(ctx, "connection closed before the CONNECT response for " + target);
        } else {
            fail(ctx, CloseReason.TUNNEL_RESET, "stream closed before the CONNECT response for " + target);
        }
        ctx.fireChannelInactive();
    }

    private void detach(ChannelHandlerContext ctx) {
        if (early != null) {
            early.detach(ctx);
        }
    }

    private void unprocessed(ChannelHandlerContext ctx, String message) {
        detach(ctx);
        if (timeout != null) {
            timeout.cancel(false);
        }
        result.tryFailure(TunnelException.unprocessed(message));
        ctx.close();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        fail(ctx, CloseReason.TUNNEL_RESET, "CONNECT " + target + " failed: " + cause);
    }

    private void fail(ChannelHandlerContext ctx, CloseReason reason, String message) {
        detach(ctx);
        if (timeout != null) {
            timeout.cancel(false);
        }
        result.tryFailure(new TunnelException(reason, message));
        ctx.close();
    }
}
