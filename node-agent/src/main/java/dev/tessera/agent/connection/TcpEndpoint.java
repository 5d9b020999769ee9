package dev.tessera.agent.connection;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOption;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.channel.socket.DuplexChannel;
import io.netty.channel.unix.Socket;
import io.netty.util.ReferenceCountUtil;
import java.io.IOException;

/**
 * A relay endpoint on a TCP socket (the application's accepted connection or a connection to a pod or
 * passthrough destination). The channel must run with {@code ALLOW_HALF_CLOSURE=true} so a FIN arrives
 * as {@link ChannelInputShutdownEvent} and is propagated instead of closing the socket.
 *
 * <p>Closing a connection costs no exceptions on the epoll transport (Netty's own half-close creates two
 * with full stack traces per connection, a measurable share of the agent's CPU at thousands of
 * connections per second): output is shut down on the socket itself, and once it is, the peer's FIN
 * closes the channel (half-closure off) instead of a {@code shutdown(SHUT_RD)} on a socket the kernel
 * already closed, which fails with {@code ENOTCONN}; {@link #channelInactive} reports that close as the
 * end of input. When input already ended, the output is finished by closing the socket.
 */
public final class TcpEndpoint extends RelayEndpoint {

    /** Output shut down on the socket with half-closure switched off: a close now means the peer's FIN. */
    private boolean closeIsEof;
    /** This side was reset or failed: a close is not an end of input. */
    private volatile boolean failed;

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
            if (inputDone) { // both directions are done: the close sends the FIN after the data
                outputDone = true;
                channel.close();
                return;
            }
            if (channel instanceof EpollSocketChannel epoll) {
                shutdownEpollOutput(epoll);
                return;
            }
            shutdownOutput(f.channel()).addListener((ChannelFutureListener) s -> {
                outputDone = true;
                closeIfDone();
            });
        });
    }

    private void shutdownEpollOutput(EpollSocketChannel epoll) {
        outputDone = true;
        if (!epoll.isActive()) {
            return; // closed meanwhile: channelInactive reports it
        }
        try {
            ((Socket) epoll.fd()).shutdown(false, true);
        } catch (IOException | RuntimeException e) { // the connection is gone (reset): nothing left to finish
            failed = true;
            epoll.close();
            return;
        }
        epoll.config().setOption(ChannelOption.ALLOW_HALF_CLOSURE, false);
        closeIsEof = true;
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        if (closeIsEof && !failed && !inputDone && session.reason() == CloseReason.OK) {
            inputEnded(); // the peer's FIN after our output had ended (see the class comment)
        }
        super.channelInactive(ctx);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        failed = true;
        super.exceptionCaught(ctx, cause);
    }

    private static ChannelFuture shutdownOutput(Channel ch) {
        if (ch instanceof DuplexChannel duplex) {
            return duplex.shutdownOutput();
        }
        return ch.close();
    }

    @Override
    protected void abort() {
        failed = true;
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
