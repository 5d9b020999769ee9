package dev.tessera.agent.hbone;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOutboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * When the tunnel's flushes reach the socket. "The socket" is a handler in front of the coalescer (towards TLS)
 * that records each flush and how many writes it carried. The end-of-pass task goes to a queue the test runs to
 * end a pass ({@link EmbeddedChannel} runs its event loop's tasks after every flush, which would end the pass
 * at the first one).
 */
class PassFlushCoalescerTest {

    /** Writes carried by each flush that passed the coalescer, in order. */
    private final List<Integer> flushes = new ArrayList<>();
    private int writesSinceFlush;
    private EmbeddedChannel ch;
    /** The event loop's pass: its end runs what the coalescer queued. */
    private final ArrayDeque<Runnable> pass = new ArrayDeque<>();

    @BeforeEach
    void setUp() {
        ch = new EmbeddedChannel();
        ch.pipeline().addLast("socket", new ChannelOutboundHandlerAdapter() {
            @Override
            public void write(ChannelHandlerContext ctx, Object msg, io.netty.channel.ChannelPromise promise) {
                writesSinceFlush++;
                ctx.write(msg, promise);
            }

            @Override
            public void flush(ChannelHandlerContext ctx) {
                flushes.add(writesSinceFlush);
                writesSinceFlush = 0;
                ctx.flush();
            }
        });
        ch.pipeline().addLast("coalescer", new PassFlushCoalescer(pass::add));
    }

    @AfterEach
    void tearDown() {
        ch.finishAndReleaseAll();
    }

    private void endPass() {
        for (Runnable task; (task = pass.poll()) != null; ) {
            task.run();
        }
    }

    private void streamWritesAndFlushes() {
        ch.pipeline().writeAndFlush(Unpooled.wrappedBuffer(new byte[] {1}));
    }

    @Test
    void aLoneFlushGoesOutAtOnce() {
        streamWritesAndFlushes();

        assertThat(flushes).containsExactly(1);
        endPass();
        assertThat(flushes).as("nothing was held, so the end of the pass flushes nothing").containsExactly(1);
    }

    @Test
    void theFlushesAfterTheFirstInOnePassGoOutTogetherAtItsEnd() {
        streamWritesAndFlushes();
        streamWritesAndFlushes();
        streamWritesAndFlushes();
        streamWritesAndFlushes();

        assertThat(flushes).containsExactly(1);
        endPass();
        assertThat(flushes).containsExactly(1, 3);
    }

    @Test
    void aNewPassFlushesItsFirstAtOnceAgain() {
        streamWritesAndFlushes();
        streamWritesAndFlushes();
        endPass();
        streamWritesAndFlushes();

        assertThat(flushes).containsExactly(1, 1, 1);
    }

    @Test
    void flushesDuringATunnelReadWaitForTheReadsEnd() {
        ch.pipeline().fireChannelRead("frame");
        streamWritesAndFlushes();
        streamWritesAndFlushes();
        endPass();
        assertThat(flushes).as("the read is still in progress").isEmpty();

        ch.pipeline().fireChannelReadComplete();
        assertThat(flushes).containsExactly(2);
        assertThat((Object) ch.readInbound()).isEqualTo("frame");
    }

    @Test
    void atMostSixtyFourFlushesAreHeldBack() {
        streamWritesAndFlushes();
        for (int i = 0; i < PassFlushCoalescer.MAX_HELD; i++) {
            streamWritesAndFlushes();
        }

        assertThat(flushes).containsExactly(1, PassFlushCoalescer.MAX_HELD);
    }

    @Test
    void closingFlushesWhatIsHeld() {
        streamWritesAndFlushes();
        streamWritesAndFlushes();
        streamWritesAndFlushes();

        ch.pipeline().close();
        assertThat(flushes).containsExactly(1, 2);
    }

    @Test
    void aTunnelThatStopsBeingWritableFlushesWhatIsHeld() {
        streamWritesAndFlushes();
        streamWritesAndFlushes();
        ch.config().setWriteBufferLowWaterMark(0);
        ch.config().setWriteBufferHighWaterMark(1);
        // An unflushed write above the high-water mark makes the channel unwritable and fires the event.
        ch.pipeline().write(Unpooled.wrappedBuffer(new byte[] {1, 2, 3, 4}));

        assertThat(ch.isWritable()).isFalse();
        assertThat(flushes).as("the held flush went out with the write that filled the buffer").containsExactly(1, 2);
    }
}
