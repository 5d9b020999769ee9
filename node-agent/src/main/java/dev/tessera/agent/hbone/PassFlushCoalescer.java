package dev.tessera.agent.hbone;

import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;
import java.util.concurrent.Executor;

/**
 * Between TLS and HTTP/2 on both ends of a tunnel: the FIRST flush of an event-loop pass goes out at once, the
 * flushes that follow it in the same pass wait for its end and go out together (one TLS wrap, one socket
 * write). Every stream of a tunnel flushes on its own (a pod connection's read ends in a flush of its stream), so
 * with several busy streams the tunnel would otherwise make a TLS record and a {@code sendto} per stream per pass.
 *
 * <p>Unlike Netty's {@code FlushConsolidationHandler} with {@code consolidateWhenNoReadInProgress}, which holds
 * back every flush outside a read until the end of the pass, a lone flush (one request on an otherwise quiet
 * tunnel: the closed-loop, request-response case) is never delayed: holding it back measured 18 % fewer
 * keep-alive requests per second in {@code bench/run.sh}'s closed-loop test although it saved CPU per request.
 * Flushes during a read of the tunnel itself wait for the read's end (Netty's consolidation, kept). At most
 * {@value #MAX_HELD} flushes are held back before one goes out regardless, as with Netty's handler.
 */
public final class PassFlushCoalescer extends ChannelDuplexHandler {

    static final int MAX_HELD = 64;

    private ChannelHandlerContext ctx;
    private boolean readInProgress;
    /** A flush went out in this pass; the end-of-pass task is queued. */
    private boolean passOpen;
    private int held;
    private final Runnable endOfPass = this::endOfPass;
    /** Where the end-of-pass task is queued; {@code null}: the channel's event loop. */
    private final Executor passQueue;

    public PassFlushCoalescer() {
        this(null);
    }

    /** With the end-of-pass task queued on {@code passQueue} (tests: a queue they run to end a pass). */
    PassFlushCoalescer(Executor passQueue) {
        this.passQueue = passQueue;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        this.ctx = ctx;
    }

    @Override
    public void flush(ChannelHandlerContext ctx) {
        if (readInProgress) {
            hold(ctx);
        } else if (!passOpen) {
            passOpen = true;
            (passQueue != null ? passQueue : ctx.executor()).execute(endOfPass);
            ctx.flush();
        } else {
            hold(ctx);
        }
    }

    private void hold(ChannelHandlerContext ctx) {
        if (++held >= MAX_HELD) {
            flushHeld(ctx);
        }
    }

    private void endOfPass() {
        passOpen = false;
        if (!readInProgress) {
            flushHeld(ctx);
        }
    }

    private void flushHeld(ChannelHandlerContext ctx) {
        if (held > 0) {
            held = 0;
            ctx.flush();
        }
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        readInProgress = true;
        ctx.fireChannelRead(msg);
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        readInProgress = false;
        flushHeld(ctx);
        ctx.fireChannelReadComplete();
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        if (!ctx.channel().isWritable()) {
            flushHeld(ctx);
        }
        ctx.fireChannelWritabilityChanged();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        flushHeld(ctx);
        ctx.fireExceptionCaught(cause);
    }

    @Override
    public void disconnect(ChannelHandlerContext ctx, ChannelPromise promise) {
        flushHeld(ctx);
        ctx.disconnect(promise);
    }

    @Override
    public void close(ChannelHandlerContext ctx, ChannelPromise promise) {
        flushHeld(ctx);
        ctx.close(promise);
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
        flushHeld(ctx);
    }
}
