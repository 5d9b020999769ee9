package dev.tessera.agent.netty;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.channel.AdaptiveRecvByteBufAllocator;
import io.netty.channel.ChannelOption;
import io.netty.channel.RecvByteBufAllocator;
import io.netty.channel.embedded.EmbeddedChannel;
import org.junit.jupiter.api.Test;

/** Every relayed socket reads up to {@link Listeners#MAX_READ}: accepted ones (both listeners) and dialled ones. */
class ListenersTest {

    @Test
    void acceptedAndDialledSocketsReadUpTo256KiB() {
        try (EventLoops loops = EventLoops.create(1)) {
            assertThat(Listeners.paused(loops).config().childOptions().get(ChannelOption.RCVBUF_ALLOCATOR))
                    .isSameAs(Listeners.READS);
            assertThat(Listeners.dialer(loops, 1_000).config().options().get(ChannelOption.RCVBUF_ALLOCATOR))
                    .isSameAs(Listeners.READS);
        }
        assertThat(Listeners.MAX_READ).isEqualTo(256 * 1024);
    }

    /** The allocator grows a channel's reads toward the limit while they fill the buffer, and no further. */
    @Test
    void readsGrowToTheLimitWhileTheyFillTheBufferAndNoFurther() {
        EmbeddedChannel ch = new EmbeddedChannel();
        try {
            ch.config().setRecvByteBufAllocator(Listeners.READS);
            RecvByteBufAllocator.Handle h = ch.unsafe().recvBufAllocHandle();
            int guess = 0;
            for (int i = 0; i < 40; i++) {
                h.reset(ch.config());
                guess = h.guess();
                h.lastBytesRead(guess); // a full read
                h.incMessagesRead(1);
                h.readComplete();
            }
            assertThat(guess).isEqualTo(Listeners.MAX_READ);
            assertThat(Listeners.READS).isInstanceOf(AdaptiveRecvByteBufAllocator.class);
        } finally {
            ch.finishAndReleaseAll();
        }
    }
}
