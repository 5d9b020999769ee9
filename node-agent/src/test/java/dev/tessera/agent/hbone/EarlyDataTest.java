package dev.tessera.agent.hbone;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http2.Http2DataFrame;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** {@link EarlyData} on embedded streams: what goes out behind a CONNECT, what a retry replays. */
class EarlyDataTest {

    private final EarlyData early = new EarlyData();
    private final EmbeddedChannel first = stream();
    private final EmbeddedChannel retry = stream();

    @AfterEach
    void tearDown() {
        early.release();
        first.finishAndReleaseAll();
        retry.finishAndReleaseAll();
    }

    private static EmbeddedChannel stream() {
        return new EmbeddedChannel(new ChannelInboundHandlerAdapter());
    }

    private static ChannelHandlerContext ctx(EmbeddedChannel ch) {
        return ch.pipeline().firstContext();
    }

    private static String data(EmbeddedChannel ch) {
        Http2DataFrame f = ch.readOutbound();
        assertThat(f).as("a DATA frame").isNotNull();
        assertThat(f.isEndStream()).isFalse();
        try {
            return f.content().toString(StandardCharsets.US_ASCII);
        } finally {
            f.release();
        }
    }

    @Test
    void whatWasSentGoesBehindTheConnectAndLaterBytesFollowAtOnce() {
        early.add(ascii("GET / "));
        early.attach(ctx(first));
        first.flush();
        assertThat(data(first)).isEqualTo("GET / ");

        early.add(ascii("HTTP/1.1\r\n"));
        assertThat(data(first)).as("no wait for the answer").isEqualTo("HTTP/1.1\r\n");
        assertThat(early.bytes()).isEqualTo(16);
    }

    @Test
    void aRetryReplaysEverythingAndTheRelayGetsOnlyWhatCameAfterTheAnswer() {
        ByteBuf a = ascii("one");
        early.add(a);
        early.attach(ctx(first));
        first.flush();
        assertThat(data(first)).isEqualTo("one");
        early.detach(ctx(first)); // unprocessed (GOAWAY): retried on another connection

        early.add(ascii("two")); // between the failure and the retry: held
        assertThat((Object) first.readOutbound()).isNull();
        early.attach(ctx(retry));
        retry.flush();
        assertThat(data(retry)).isEqualTo("one");
        assertThat(data(retry)).isEqualTo("two");
        early.detach(ctx(retry)); // answered 200

        early.add(ascii("three")); // before the relay exists
        List<ByteBuf> forRelay = early.takeUnwritten();
        assertThat(forRelay).hasSize(1);
        assertThat(forRelay.get(0).toString(StandardCharsets.US_ASCII)).isEqualTo("three");
        forRelay.forEach(ByteBuf::release);
        assertThat((Object) retry.readOutbound()).isNull();

        early.release();
        assertThat(a.refCnt()).as("released once every stream is done with it").isZero();
    }

    private static ByteBuf ascii(String s) {
        return Unpooled.copiedBuffer(s, StandardCharsets.US_ASCII);
    }
}
