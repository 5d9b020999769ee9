package dev.tessera.api.push;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandler.Sharable;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.MessageToByteEncoder;

/**
 * Encodes {@link Message}s written to the channel into frames. Already encoded frames (a {@link ByteBuf},
 * e.g. a snapshot shared by every agent) pass through untouched. Stateless, so one instance serves all
 * channels.
 */
@Sharable
public final class FrameEncoder extends MessageToByteEncoder<Message> {

    /** The shared instance. */
    public static final FrameEncoder INSTANCE = new FrameEncoder();

    private FrameEncoder() {
        super(Message.class);
    }

    /** Encodes into a heap buffer (field-by-field writes are cheaper there); the transport copies it once. */
    @Override
    protected ByteBuf allocateBuffer(ChannelHandlerContext ctx, Message msg, boolean preferDirect) {
        return io.netty.buffer.Unpooled.buffer();
    }

    @Override
    protected void encode(ChannelHandlerContext ctx, Message msg, ByteBuf out) {
        Frames.encode(msg, out);
    }
}
