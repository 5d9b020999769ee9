package dev.tessera.agent.proxy;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOption;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.channel.socket.DuplexChannel;
import io.netty.util.ReferenceCountUtil;

/**
 * A relay endpoint on a TCP socket (the application's accepted connection or a connection to a pod or
 * passthrough destination). The channel must run with {@code ALLOW_HALF_CLOSURE=true} so a FIN arrives
 * as {@link ChannelInputShutdownEvent} and is propagated instead of closing the socket.
 */
public final class TcpEndpoint extends RelayEndpoint {

    public TcpEndpoint(Channel channel, RelaySession session, boolean sourceSide, CloseReason resetReason) {
        super(channel, session, sourceSide, resetReason);
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (msg instanceof ByteBuf buf) {
            forward(buf);
        } else {
            ReferenceCountUtil.release(msg);
        }
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt == ChannelInputShutdownEvent.INSTANCE) {
            inputEnded();
        }
        ctx.fireUserEventTriggered(evt);
    }

    @Override
    protected void write(ByteBuf data) {
        channel.write(data, channel.voidPromise());
    }

    @Override
    protected void finish() {
        channel.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener((ChannelFutureListener) f -> {
            if (!f.isSuccess()) {
                return; // the failed write closes the channel; channelInactive aborts the peer
            }
            shutdownOutput(f.channel()).addListener((ChannelFutureListener) s -> {
                outputDone = true;
                closeIfDone();
            });
        });
    }

    private static ChannelFuture shutdownOutput(Channel ch) {
        if (ch instanceof DuplexChannel duplex) {
            return duplex.shutdownOutput();
        }
        return ch.close();
    }

    @Override
    protected void abort() {
        if (channel.isOpen()) {
            try {
                channel.config().setOption(ChannelOption.SO_LINGER, 0); // close with RST
            } catch (RuntimeException ignored) {
                // not every transport has SO_LINGER (tests); a FIN is the best we can do then
            }
            channel.close();
        }
    }
}
