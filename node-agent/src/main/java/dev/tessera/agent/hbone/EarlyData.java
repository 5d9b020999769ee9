package dev.tessera.agent.hbone;

import static java.util.Objects.requireNonNull;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http2.DefaultHttp2DataFrame;
import java.util.ArrayList;
import java.util.List;

/**
 * What the client sent before its CONNECT was answered ("early data"), kept so it reaches the peer agent
 * without waiting for the {@code 200}: chunks added while a CONNECT awaits its answer are written on that
 * stream at once, and a stream opened later (the first one, or the retry of a stream the server never
 * processed) gets everything added so far. The chunks stay owned here until {@link #release}; streams get
 * retained duplicates. Confined to one event loop: the application connection's, which also runs its
 * pooled tunnel connection and streams.
 */
public final class EarlyData {

    private final List<ByteBuf> chunks = new ArrayList<>(1);
    private int bytes;
    private ChannelHandlerContext stream; // the CONNECT awaiting its answer, or null
    private int written; // chunks written on the current or last stream

    /** Adds bytes the client sent (takes ownership); written at once if a CONNECT awaits its answer. */
    public void add(ByteBuf data) {
        requireNonNull(data, "data");
        chunks.add(data);
        bytes += data.readableBytes();
        if (stream != null) {
            stream.writeAndFlush(new DefaultHttp2DataFrame(data.retainedDuplicate(), false), stream.voidPromise());
            written = chunks.size();
        }
    }

    /** Bytes added so far. */
    public int bytes() {
        return bytes;
    }

    /**
     * Chunks added after the last stream stopped taking them (between the answer and the relay), which the
     * relay must send; ownership passes to the caller.
     */
    public List<ByteBuf> takeUnwritten() {
        List<ByteBuf> out = new ArrayList<>(chunks.subList(written, chunks.size()));
        chunks.subList(written, chunks.size()).clear();
        return out;
    }

    /** Releases every chunk still held. */
    public void release() {
        stream = null;
        chunks.forEach(ByteBuf::release);
        chunks.clear();
        written = 0;
    }

    /** A CONNECT was written on {@code ctx}: writes everything so far behind it (the caller flushes). */
    void attach(ChannelHandlerContext ctx) {
        stream = ctx;
        for (ByteBuf c : chunks) {
            ctx.write(new DefaultHttp2DataFrame(c.retainedDuplicate(), false), ctx.voidPromise());
        }
        written = chunks.size();
    }

    /** The CONNECT on {@code ctx} was answered or failed: later chunks wait for the relay (or a retry). */
    void detach(ChannelHandlerContext ctx) {
        if (stream == ctx) {
            stream = null;
        }
    }
}
