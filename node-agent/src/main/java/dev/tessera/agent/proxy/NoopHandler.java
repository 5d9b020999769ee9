package dev.tessera.agent.proxy;

import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelInboundHandlerAdapter;

/** A shareable handler that does nothing: the initial handler of outgoing connections before the relay. */
@ChannelHandler.Sharable
public final class NoopHandler extends ChannelInboundHandlerAdapter {
    /** The one instance. */
    public static final NoopHandler INSTANCE = new NoopHandler();

    private NoopHandler() {}
}
