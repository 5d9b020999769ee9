package dev.tessera.api.fuzz;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.tessera.api.push.FrameDecoder;
import dev.tessera.api.push.Frames;
import dev.tessera.api.push.Message;
import dev.tessera.api.push.ProtocolException;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.DecoderException;
import io.netty.util.ReferenceCountUtil;

/**
 * The config push protocol (port 15012) as a peer's bytes reach it: a whole frame body through
 * {@link Frames#decode}, and a byte stream (length-prefixed frames, split anywhere) through the
 * {@link FrameDecoder} of the server's and the agent's pipelines. Bad input may only fail with
 * {@link ProtocolException} (wrapped in Netty's {@link DecoderException} by the pipeline), never another
 * exception, a hang or unbounded allocation; the stream decoder releases every byte it was given.
 */
class PushFrameFuzzTest {

    @FuzzTest(maxDuration = "15s") // exploration (JAZZER_FUZZ=1) only; regression runs the corpus once
    void frameBody(byte[] data) {
        ByteBuf frame = Unpooled.wrappedBuffer(data);
        try {
            Message m = Frames.decode(frame);
            if (m == null) {
                throw new AssertionError("decode returned null instead of a message or a ProtocolException");
            }
        } catch (ProtocolException expected) {
            // the documented error: the message names the field and the expected value
            if (expected.getMessage() == null || expected.getMessage().isBlank()) {
                throw new AssertionError("ProtocolException without a message", expected);
            }
        } finally {
            frame.release();
        }
    }

    @FuzzTest(maxDuration = "15s") // exploration (JAZZER_FUZZ=1) only; regression runs the corpus once
    void frameStream(byte[] data) {
        // the pre-HELLO limit, so a fuzzed length can never make the test allocate 64 MiB per input
        EmbeddedChannel channel = new EmbeddedChannel(new FrameDecoder(16 * 1024));
        ByteBuf in = Unpooled.wrappedBuffer(data);
        int split = data.length == 0 ? 0 : (data[0] & 0xff) % data.length;
        try {
            channel.writeInbound(in.retainedSlice(0, split)); // two reads, as TCP may deliver them
            channel.writeInbound(in.retainedSlice(split, data.length - split));
        } catch (DecoderException e) {
            if (!(e.getCause() instanceof ProtocolException)) {
                throw e;
            }
        } finally {
            Object out;
            while ((out = channel.readInbound()) != null) {
                ReferenceCountUtil.release(out);
            }
            channel.finishAndReleaseAll();
        }
        if (in.refCnt() != 1) {
            throw new AssertionError("the decoder kept or over-released input bytes: refCnt " + in.refCnt() + " (expected: 1)");
        }
        in.release();
    }
}
