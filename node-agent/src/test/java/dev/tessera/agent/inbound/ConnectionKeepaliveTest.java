package dev.tessera.agent.inbound;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http2.DefaultHttp2Connection;
import io.netty.handler.codec.http2.Http2GoAwayFrame;
import io.netty.handler.codec.http2.Http2PingFrame;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.util.ReferenceCountUtil;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The HBONE server connection's keepalive and idle rules, driven event by event with a fake clock. */
class ConnectionKeepaliveTest {

    private final DefaultHttp2Connection h2 = new DefaultHttp2Connection(true);
    private final List<ConnectionKeepalive.Closed> closed = new ArrayList<>();
    private long now = 1_000_000_000L;
    private final ConnectionKeepalive keepalive = new ConnectionKeepalive(h2, Duration.ofSeconds(30),
            Duration.ofMinutes(10), closed::add, () -> now);
    private final EmbeddedChannel ch = new EmbeddedChannel(keepalive);

    @AfterEach
    void release() {
        ch.finishAndReleaseAll();
    }

    private void idle() {
        keepalive.channelIdle(ch.pipeline().context(keepalive), IdleStateEvent.READER_IDLE_STATE_EVENT);
    }

    private void check() {
        keepalive.checkIdle(ch.pipeline().context(keepalive));
    }

    private List<Object> written() {
        var out = new ArrayList<>();
        for (Object o; (o = ch.readOutbound()) != null; ) {
            out.add(o);
            ReferenceCountUtil.release(o);
        }
        return out;
    }

    @Test
    void aSilentPeerGetsAPingAndIsClosedWhenItDoesNotAnswer() {
        idle();
        assertThat(written()).singleElement().isInstanceOf(Http2PingFrame.class);
        assertThat(ch.isActive()).isTrue();
        idle();
        assertThat(ch.isActive()).as("no answer to the PING").isFalse();
        assertThat(closed).containsExactly(ConnectionKeepalive.Closed.PEER_SILENT);
    }

    @Test
    void anyFrameFromThePeerAnswersThePing() {
        idle();
        written();
        ch.writeInbound("a PING ACK or any frame");
        ch.readInbound();
        idle();
        assertThat(ch.isActive()).isTrue();
        assertThat(written()).singleElement().isInstanceOf(Http2PingFrame.class);
        assertThat(closed).isEmpty();
    }

    @Test
    void aConnectionWithoutStreamsIsDrainedAfterTheIdleTimeout() throws Exception {
        now += Duration.ofMinutes(10).toNanos();
        check();
        assertThat(written()).singleElement().isInstanceOf(Http2GoAwayFrame.class);
        assertThat(ch.isActive()).as("the notice first: streams in flight are still served").isTrue();
        ch.writeInbound("PING ACK or anything else the peer sends");
        ch.readInbound();
        check();
        assertThat(ch.isActive()).isFalse();
        assertThat(closed).containsExactly(ConnectionKeepalive.Closed.IDLE);
    }

    @Test
    void aConnectionWithAStreamIsNeverIdle() throws Exception {
        h2.remote().createStream(3, false); // open: the connection is busy
        now += Duration.ofHours(1).toNanos();
        for (int i = 0; i < 3; i++) {
            check();
            idle();
            ch.writeInbound("PING ACK");
            ch.readInbound();
        }
        assertThat(written()).allMatch(f -> f instanceof Http2PingFrame);
        assertThat(ch.isActive()).isTrue();
        h2.stream(3).close();
        now += Duration.ofMinutes(9).toNanos();
        check();
        idle();
        assertThat(written()).as("idle for 9 of 10 minutes").allMatch(f -> f instanceof Http2PingFrame);
    }
}
