package dev.tessera.agent.hbone;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tessera.agent.connection.CloseReason;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.DefaultHttp2HeadersFrame;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.codec.http2.Http2HeadersFrame;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.util.concurrent.Promise;
import java.net.InetSocketAddress;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class HboneTest {

    @Test
    void connectRequestCarriesAuthorityAndSource() {
        Http2Headers h = Hbone.connectRequest(new InetSocketAddress("198.18.2.5", 8080),
                new InetSocketAddress("198.18.1.2", 40000));
        assertThat(h.method().toString()).isEqualTo("CONNECT");
        assertThat(h.authority().toString()).isEqualTo("198.18.2.5:8080");
        assertThat(h.get(Hbone.SOURCE_HEADER).toString()).isEqualTo("198.18.1.2:40000");
        assertThat(h.path()).isNull();
        assertThat(h.scheme()).isNull();
    }

    @Test
    void responsesRoundTripTheirReason() {
        assertThat(Hbone.isAccepted(Hbone.accepted())).isTrue();
        Http2Headers refused = Hbone.refused(CloseReason.TARGET_NOT_LOCAL);
        assertThat(refused.status().toString()).isEqualTo("403");
        assertThat(Hbone.isAccepted(refused)).isFalse();
        assertThat(Hbone.refusalReason(refused)).isEqualTo(CloseReason.TARGET_NOT_LOCAL);
        assertThat(Hbone.refused(CloseReason.UPSTREAM_CONNECT_FAILED).status().toString()).isEqualTo("503");
        assertThat(Hbone.refusalReason(new DefaultHttp2Headers().status("500"))).isEqualTo(CloseReason.TUNNEL_REFUSED);
    }

    @Test
    void parsesLiteralAddresses() {
        assertThat(Hbone.parseAuthority("198.18.1.2:80")).isEqualTo(new InetSocketAddress("198.18.1.2", 80));
        assertThat(Hbone.parseAuthority("[::1]:65535")).isEqualTo(new InetSocketAddress("::1", 65535));
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "198.18.1.2", "198.18.1.2:", ":80", "example.com:80", "198.18.1.2:0",
            "198.18.1.2:65536", "198.18.1.2:70000", "198.18.1.2:-1", "198.18.1.2:8a", "198.18.1.256:80",
            "[zz]:80", "::1:80", "198.18.1.2:123456"})
    void rejectsEverythingElseNamingTheExpectedForm(String authority) {
        assertThatThrownBy(() -> Hbone.parseAuthority(authority))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("authority:")
                .hasMessageContaining("expected");
    }

    @Test
    void portOutOfRangeNamesTheRange() {
        assertThatThrownBy(() -> Hbone.parseAuthority("198.18.1.2:70000")).hasMessageContaining("70000 (expected: 1-65535)");
    }

    @Test
    void connectRequestHandlerSendsConnectAndFailsOnRefusal() {
        EmbeddedChannel ch = new EmbeddedChannel();
        Promise<Http2StreamChannel> result = ch.eventLoop().newPromise();
        ch.pipeline().addLast(new ConnectRequest(new InetSocketAddress("198.18.2.5", 8080), null, result, 5000));
        Http2HeadersFrame sent = ch.readOutbound();
        assertThat(sent.headers().method().toString()).isEqualTo("CONNECT");
        assertThat(sent.headers().authority().toString()).isEqualTo("198.18.2.5:8080");
        assertThat(sent.isEndStream()).isFalse();

        ch.writeInbound(new DefaultHttp2HeadersFrame(Hbone.refused(CloseReason.IDENTITY_MISMATCH), true));
        assertThat(result.isDone()).isTrue();
        assertThat(TunnelException.reasonOf(result.cause(), null)).isEqualTo(CloseReason.IDENTITY_MISMATCH);
        assertThat(ch.isOpen()).isFalse();
        ch.finishAndReleaseAll();
    }

    @Test
    void connectRequestFailsWhenTheStreamCloses() {
        EmbeddedChannel ch = new EmbeddedChannel();
        Promise<Http2StreamChannel> result = ch.eventLoop().newPromise();
        ch.pipeline().addLast(new ConnectRequest(new InetSocketAddress("198.18.2.5", 8080), null, result, 5000));
        ch.close();
        assertThat(TunnelException.reasonOf(result.cause(), null)).isEqualTo(CloseReason.TUNNEL_RESET);
        ch.finishAndReleaseAll();
    }
}
