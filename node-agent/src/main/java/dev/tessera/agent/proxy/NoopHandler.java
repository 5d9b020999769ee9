package dev.tessera.agent.proxy;

import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;

/**
 * A shareable handler that does nothing: the initial handler of outgoing connections before the relay.
 * A socket error while no relay follows it (the connection was reset before or after the relay) closes
 * the channel quietly instead of reaching the pipeline's tail, where Netty logs a WARN with a stack trace
 * on the event loop.
 */
@ChannelHandler.Sharable
public final class NoopHandler extends ChannelInboundHandlerAdapter {
    /** The one instance. */
    public static final NoopHandler INSTANCE = new NoopHandler();

    private NoopHandler() {}

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        if (ctx.pipeline().last() == this) {
            ctx.close();
        } else {
            ctx.fireExceptionCaught(cause);
        }
    }
}
