package dev.tessera.agent.connection;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tessera.agent.connection.ConnectionContext.Direction;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.handler.codec.http2.DefaultHttp2DataFrame;
import io.netty.handler.codec.http2.DefaultHttp2ResetFrame;
import io.netty.handler.codec.http2.Http2DataFrame;
import io.netty.handler.codec.http2.Http2Error;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The relay between a TCP socket and an HBONE stream, on embedded channels. */
class RelayEndpointTest {

    private final RecordingListenerStub listener = new RecordingListenerStub();
    private DuplexEmbeddedChannel tcp;
    private EmbeddedChannel stream;
    private RelaySession session;

    @BeforeEach
    void setUp() {
        tcp = new DuplexEmbeddedChannel();
        stream = new EmbeddedChannel();
        stream.config().setAutoRead(false);
        session = new RelaySession(ConnectionContext.accepted(Direction.OUTBOUND,
                new InetSocketAddress("127.0.1.1", 40000)), listener);
        RelayEndpoint.start(new TcpEndpoint(tcp, session, true, CloseReason.CLIENT_RESET),
                new StreamEndpoint(stream, session, false, CloseReason.TUNNEL_RESET));
    }

    @AfterEach
    void tearDown() {
        tcp.finishAndReleaseAll();
        stream.finishAndReleaseAll();
    }

    @Test
    void tcpBytesBecomeDataFramesAndFinBecomesEndStream() {
        tcp.writeInbound(ascii("hello"));
        Http2DataFrame data = stream.readOutbound();
        assertThat(data.content().toString(StandardCharsets.US_ASCII)).isEqualTo("hello");
        assertThat(data.isEndStream()).isFalse();
        assertThat(data.release()).isTrue();

        tcp.pipeline().fireUserEventTriggered(ChannelInputShutdownEvent.INSTANCE);
        Http2DataFrame end = stream.readOutbound();
        assertThat(end.isEndStream()).isTrue();
        assertThat(end.content().readableBytes()).isZero();
        end.release();
        assertThat(session.bytesFromSource()).isEqualTo(5);
        assertThat(tcp.isOpen()).as("still receiving").isTrue();
    }

    @Test
    void endStreamShutsTcpOutputAfterTheDataAndBothDoneCloses() {
        stream.writeInbound(new DefaultHttp2DataFrame(ascii("world"), true));
        ByteBuf out = tcp.readOutbound();
        assertThat(out.toString(StandardCharsets.US_ASCII)).isEqualTo("world");
        assertThat(out.release()).isTrue();
        assertThat(tcp.isOutputShutdown()).isTrue();
        assertThat(tcp.isOpen()).as("the app may still send").isTrue();
        assertThat(session.bytesToSource()).isEqualTo(5);

        tcp.pipeline().fireUserEventTriggered(ChannelInputShutdownEvent.INSTANCE);
        releaseAll(stream);
        assertThat(tcp.isOpen()).isFalse();
        assertThat(session.reason()).isEqualTo(CloseReason.OK);
    }

    @Test
    void resetStreamAbortsTheTcpSide() {
        stream.writeInbound(new DefaultHttp2ResetFrame(Http2Error.CANCEL));
        assertThat(tcp.isOpen()).isFalse();
        assertThat(session.reason()).isEqualTo(CloseReason.TUNNEL_RESET);
    }

    @Test
    void tcpClosingEarlyResetsTheStream() {
        tcp.close();
        assertThat(stream.isOpen()).isFalse();
        assertThat(session.reason()).isEqualTo(CloseReason.CLIENT_RESET);
    }

    @Test
    void readsStopWhileTheStreamIsUnwritableAndResumeWhenWritable() {
        int before = tcp.reads.get();
        stream.unsafe().outboundBuffer().setUserDefinedWritability(1, false);
        tcp.writeInbound(ascii("chunk"));
        assertThat(tcp.reads.get()).as("no read while the peer cannot take more").isEqualTo(before);
        releaseAll(stream);

        stream.unsafe().outboundBuffer().setUserDefinedWritability(1, true);
        stream.runPendingTasks();
        assertThat(tcp.reads.get()).isEqualTo(before + 1);
    }

    @Test
    void readsContinueWhileThePeerIsWritable() {
        int before = tcp.reads.get();
        tcp.writeInbound(ascii("a"));
        tcp.writeInbound(ascii("b"));
        assertThat(tcp.reads.get()).isEqualTo(before + 2);
        releaseAll(stream);
    }

    private static void releaseAll(EmbeddedChannel ch) {
        Object o;
        while ((o = ch.readOutbound()) != null) {
            io.netty.util.ReferenceCountUtil.release(o);
        }
    }

    private static ByteBuf ascii(String s) {
        return Unpooled.directBuffer().writeBytes(s.getBytes(StandardCharsets.US_ASCII));
    }

    /** Counts closed events. */
    /**
     * The inbound layout (the HBONE stream faces the source) with the session closed by the stream's close
     * future, as {@code ConnectStream} does: a stream that dies under the relay (its TLS connection closed)
     * is reported with the stream's reset reason, not OK. The close future fires before
     * {@code channelInactive}, where the relay records why; the session used to close first and say OK.
     */
    @Test
    void aStreamClosedUnderTheRelayIsReportedAsReset() {
        var inbound = new RecordingListenerStub();
        var s = new EmbeddedChannel();
        var pod = new DuplexEmbeddedChannel();
        var relayed = new RelaySession(ConnectionContext.accepted(Direction.INBOUND,
                new InetSocketAddress("198.18.0.1", 40000)), inbound);
        s.closeFuture().addListener(f -> relayed.close());
        RelayEndpoint.start(new StreamEndpoint(s, relayed, true, CloseReason.TUNNEL_RESET),
                new TcpEndpoint(pod, relayed, false, CloseReason.UPSTREAM_RESET));

        s.close();
        s.runPendingTasks();
        pod.runPendingTasks();

        assertThat(inbound.closed).as("closed events").isEqualTo(1);
        assertThat(inbound.last.reason()).isEqualTo(CloseReason.TUNNEL_RESET);
        assertThat(pod.isOpen()).as("the pod side is reset").isFalse();
        s.finishAndReleaseAll();
        pod.finishAndReleaseAll();
    }

    static final class RecordingListenerStub implements ConnectionListener {
        int closed;
        ConnectionStats last;

        @Override
        public void closed(ConnectionContext context, ConnectionStats stats) {
            closed++;
            last = stats;
        }
    }
}
