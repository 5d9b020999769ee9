package dev.tessera.api.push;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.ByteToMessageDecoder;
import java.util.List;

/**
 * Splits the byte stream into frames and decodes each into a {@link Message}. The length is checked
 * before anything is buffered, so an oversized frame fails at once instead of filling memory. After the
 * first error (a {@link ProtocolException}, wrapped by Netty in a {@code DecoderException}) everything
 * that follows is discarded: the connection is to be closed.
 */
public final class FrameDecoder extends ByteToMessageDecoder {

    private int maxFrameSize;
    private boolean failed;

    /** @param maxFrameSize the largest accepted length field (1..{@link Frames#MAX_FRAME_SIZE}) */
    public FrameDecoder(int maxFrameSize) {
        maxFrameSize(maxFrameSize);
    }

    /**
     * Changes the largest accepted length field (on the channel's event loop), e.g. raised once the peer
     * authenticated: a stranger may not make the server buffer more than a HELLO's worth.
     */
    public void maxFrameSize(int maxFrameSize) {
        if (maxFrameSize < 1 || maxFrameSize > Frames.MAX_FRAME_SIZE) {
            throw new IllegalArgumentException("maxFrameSize: " + maxFrameSize + " (expected: 1-" + Frames.MAX_FRAME_SIZE + ")");
        }
        this.maxFrameSize = maxFrameSize;
    }

    @Override
    protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) throws Exception {
        if (failed) {
            in.skipBytes(in.readableBytes());
            return;
        }
        if (in.readableBytes() < Frames.LENGTH_FIELD) {
            return;
        }
        long length = in.getUnsignedInt(in.readerIndex());
        try {
            Frames.checkLength(length, maxFrameSize);
            if (in.readableBytes() < Frames.LENGTH_FIELD + length) {
                return;
            }
            in.skipBytes(Frames.LENGTH_FIELD);
            // one copy to a plain array, then field-by-field reads that touch no pooled, tracked buffer
            byte[] frame = new byte[(int) length];
            in.readBytes(frame);
            ByteBuf heap = Unpooled.wrappedBuffer(frame);
            try {
                out.add(Frames.decode(heap));
            } finally {
                heap.release();
            }
        } catch (ProtocolException e) {
            failed = true;
            in.skipBytes(in.readableBytes());
            throw e;
        }
    }
}
