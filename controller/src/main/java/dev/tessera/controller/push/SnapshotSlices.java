package dev.tessera.controller.push;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.stream.ChunkedInput;

/**
 * A snapshot frame (a duplicate of the one shared by every agent) handed to the transport in slices, as the
 * connection drains ({@link io.netty.handler.stream.ChunkedWriteHandler}), not whole: TLS encrypts what is
 * written at once, so whole 10 MB snapshots for 1,000 agents connecting together meant 10 GB of encrypted
 * direct buffers (measured by {@code bench/scale.sh} at 50,000 pods: direct memory exhausted, every
 * allocation waiting in {@code System.gc()}). Slices share the frame's memory; nothing is copied.
 */
final class SnapshotSlices implements ChunkedInput<ByteBuf> {

    /** Slice size: a few TLS records. */
    static final int SLICE = 256 * 1024;

    private final ByteBuf frame;
    private final long length;
    private final Runnable onSlice;
    private boolean closed;

    /**
     * @param frame the frame to send, released once sent or dropped
     * @param onSlice called whenever the transport takes a slice (the connection drains)
     */
    SnapshotSlices(ByteBuf frame, Runnable onSlice) {
        this.frame = frame;
        this.length = frame.readableBytes();
        this.onSlice = onSlice;
    }

    @Override
    public boolean isEndOfInput() {
        return closed || !frame.isReadable();
    }

    @Override
    public void close() {
        if (!closed) {
            closed = true;
            frame.release();
        }
    }

    @Override
    @Deprecated
    public ByteBuf readChunk(ChannelHandlerContext ctx) {
        return readChunk(ctx.alloc());
    }

    @Override
    public ByteBuf readChunk(ByteBufAllocator allocator) {
        if (isEndOfInput()) {
            return null;
        }
        onSlice.run();
        return frame.readRetainedSlice(Math.min(SLICE, frame.readableBytes()));
    }

    @Override
    public long length() {
        return length;
    }

    @Override
    public long progress() {
        return length - remaining();
    }

    /** Bytes not yet handed to the transport. */
    long remaining() {
        return closed ? 0 : frame.readableBytes();
    }
}
