package dev.tessera.agent.connection;

import static java.util.Objects.requireNonNull;

import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.socket.DuplexChannel;

/**
 * One side of a relay: the handler reading one channel and, for the other side, the sink writing into it.
 *
 * <p>Back-pressure: channels run with {@code AUTO_READ=false}; a side reads again after it flushed into
 * its peer only while the peer is writable, and a peer that becomes writable again asks this side to
 * read. On HTTP/2 streams the window is returned only as frames are read, so flow control reaches the
 * sender. Nothing is buffered beyond one read plus the channels' write-buffer water marks.
 *
 * <p>Half-close: end of input on one side finishes (FIN or END_STREAM) the other side's output after the
 * data written before it. A side whose both directions are done closes; a side that closes any other way
 * (reset, error) aborts its peer. Whoever receives a buffer releases it or passes it on.
 */
public abstract class RelayEndpoint extends ChannelInboundHandlerAdapter {

    protected final Channel channel;
    protected final RelaySession session;
    private final boolean sourceSide;
    protected final CloseReason resetReason;
    protected RelayEndpoint peer;
    protected volatile boolean inputDone;
    protected volatile boolean outputDone;

    /**
     * @param channel the channel this endpoint reads from and writes into
     * @param session the connection's session
     * @param sourceSide true when this channel faces the source (bytes read from it go to the destination)
     * @param resetReason what it means when this channel closes before both directions finished
     */
    protected RelayEndpoint(Channel channel, RelaySession session, boolean sourceSide, CloseReason resetReason) {
        this.channel = requireNonNull(channel, "channel");
        this.session = requireNonNull(session, "session");
        this.sourceSide = sourceSide;
        this.resetReason = requireNonNull(resetReason, "resetReason");
    }

    /** Links two endpoints, installs them last in their pipelines and starts reading both. */
    public static void start(RelayEndpoint a, RelayEndpoint b) {
        a.peer = b;
        b.peer = a;
        a.session.relayed();
        a.channel.pipeline().addLast("relay", a);
        b.channel.pipeline().addLast("relay", b);
        a.requestRead();
        b.requestRead();
    }

    /**
     * Asks for more input unless this side's input already ended (reading a socket whose input is shut
     * down makes epoll fail the channel). Safe from any thread.
     */
    protected void requestRead() {
        if (!inputDone && !(channel instanceof DuplexChannel d && d.isInputShutdown())) {
            channel.read();
        }
    }

    public Channel channel() {
        return channel;
    }

    // ---- sink side: called by the peer, possibly from another event loop ----

    /** Writes (without flushing) data read by the peer; takes ownership of {@code data}. */
    protected abstract void write(ByteBuf data);

    /** Ends this side's output after everything written so far (FIN or END_STREAM). */
    protected abstract void finish();

    /** Resets this side (TCP RST, RST_STREAM). */
    protected abstract void abort();

    protected void flush() {
        channel.flush();
    }

    protected boolean isWritable() {
        return channel.isWritable();
    }

    // ---- source side ----

    /** Passes data read from this channel to the peer and counts it. */
    protected final void forward(ByteBuf data) {
        long n = data.readableBytes();
        if (sourceSide) {
            session.addFromSource(n);
        } else {
            session.addToSource(n);
        }
        peer.write(data);
    }

    /** Marks this side's input as ended and finishes the peer's output. */
    protected final void inputEnded() {
        if (!inputDone) {
            inputDone = true;
            peer.finish();
            closeIfDone();
        }
    }

    /** Closes this channel once both directions are done. */
    protected void closeIfDone() {
        if (inputDone && outputDone) {
            channel.close();
        }
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        if (!ctx.channel().isActive()) {
            // Closed before the relay was installed: channelInactive will not come.
            session.fail(resetReason);
            peer.abort();
            if (sourceSide) {
                session.relayClosed();
            }
        }
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        peer.flush();
        if (peer.isWritable()) {
            requestRead();
        }
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        if (ctx.channel().isWritable()) {
            peer.requestRead();
        }
        ctx.fireChannelWritabilityChanged();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        if (!(inputDone && outputDone)) {
            session.fail(resetReason);
            peer.abort();
        }
        if (sourceSide) {
            session.relayClosed(); // after the failure is recorded (see RelaySession#close)
        }
        ctx.fireChannelInactive();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        session.fail(resetReason);
        abort();
    }
}
