package dev.tessera.agent.netty;

import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;

/**
 * A shareable handler that does nothing: the initial handler of outgoing connections before the relay.
 * A socket error while no relay follows it (the connection was reset before or after the relay) closes
 * the channel quietly instead of reaching the pipeline's tail, where Netty logs a WARN with a stack trace
 * on the event loop. A "not yet connected" read error on a channel whose connect is still in progress is
 * ignored (see {@link #exceptionCaught}): it belongs to the descriptor's previous owner.
 */
@ChannelHandler.Sharable
public final class QuietCloseHandler extends ChannelInboundHandlerAdapter {
    /** The one instance. */
    public static final QuietCloseHandler INSTANCE = new QuietCloseHandler();

    private QuietCloseHandler() {}

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        if (!ctx.channel().isActive() && cause instanceof java.nio.channels.NotYetConnectedException) {
            // A dial in progress on a descriptor number that was just freed (the kernel reuses the lowest): an
            // epoll event left over for the descriptor's previous owner reaches the new channel as a failed read.
            // Closing here killed the dial before connect() ran (StacklessClosedChannelException: 2-10% of new
            // connections under churn). The connect's own outcome decides; this event is not about this socket.
            return;
        }
        if (ctx.pipeline().last() == this) {
            ctx.close();
        } else {
            ctx.fireExceptionCaught(cause);
        }
    }
}
