package dev.tessera.agent.hbone;

import static dev.tessera.agent.testing.LoopbackMesh.*;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.tessera.agent.connection.CloseReason;
import dev.tessera.agent.connection.ProxyCounters;
import dev.tessera.agent.policy.InboundGate;
import dev.tessera.agent.testing.LoopbackMesh;
import dev.tessera.agent.tls.TlsContexts;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http2.Http2DataFrame;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.Future;
import java.net.InetSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * Early data: the client's first bytes travel with the CONNECT (before any answer) and reach the pod only
 * once the server allowed the CONNECT and connected to the pod; a refusal keeps them from the pod.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class EarlyDataIT {

    private LoopbackMesh mesh;
    private HbonePool pool;
    private InetSocketAddress nodeB;

    @BeforeAll
    void start() {
        mesh = new LoopbackMesh();
        pool = new HbonePool(new TlsContexts(mesh.idsA), mesh.loops, new ProxyCounters());
        nodeB = new InetSocketAddress(mesh.configB.nodeIp(), mesh.configB.inboundPort());
    }

    @AfterAll
    void stop() {
        pool.close();
        mesh.close();
    }

    @Test
    void theConnectCarriesTheClientsFirstBytesToThePod() throws Exception {
        EarlyData early = new EarlyData();
        ByteBuf bytes = Unpooled.copiedBuffer("hello with the CONNECT", StandardCharsets.US_ASCII);
        early.add(bytes);
        Future<Http2StreamChannel> f = pool.connect(new PoolKey(CLIENT, SERVER, nodeB), mesh.serverEcho,
                addr(CLIENT_IP, 40000), mesh.loops.worker().next(), early).awaitUninterruptibly();
        try {
            assertThat(f.isSuccess()).as("CONNECT accepted: %s", f.cause()).isTrue();
            assertThat(bytes.refCnt()).as("the caller's buffer stays the caller's").isEqualTo(1);
            assertThat(early.takeUnwritten()).as("all of it went with the CONNECT").isEmpty();
            // The client never writes on the stream: the only way the pod (an echo server) can answer these
            // bytes is that they were sent with the CONNECT and handed to the pod once it was connected.
            StringBuilder echoed = new StringBuilder();
            Http2StreamChannel stream = f.getNow();
            Object reads = stream.parent().config().getRecvByteBufAllocator();
            assertThat(reads).as("the pool's tunnel reads up to 256 KiB").isSameAs(dev.tessera.agent.netty.Listeners.READS);
            stream.eventLoop().submit(() -> {
                stream.pipeline().addLast(new ChannelInboundHandlerAdapter() {
                    @Override
                    public void channelRead(ChannelHandlerContext ctx, Object msg) {
                        if (msg instanceof Http2DataFrame d) {
                            synchronized (echoed) {
                                echoed.append(d.content().toString(StandardCharsets.US_ASCII));
                            }
                        }
                        ReferenceCountUtil.release(msg);
                        ctx.read();
                    }
                });
                stream.read();
            }).sync();
            await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> {
                synchronized (echoed) {
                    assertThat(echoed.toString()).isEqualTo("hello with the CONNECT");
                }
            });
            stream.close().sync();
        } finally {
            early.release();
        }
        await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> assertThat(mesh.recordB.closed())
                .anySatisfy(c -> assertThat(c.stats().bytesFromSource()).isEqualTo(22)));
    }

    @Test
    void aDeniedConnectNeverReachesThePodAndStillFails() throws Exception {
        try (ServerSocketChannel pod = ServerSocketChannel.open()) {
            pod.bind(new InetSocketAddress(SERVER_IP, 0));
            pod.configureBlocking(false);
            mesh.hboneB.useInboundGate((connection, channel, onRevoke) -> new dev.tessera.agent.policy.Decision(false, null, -1,
                    "denied by the test", java.util.List.of()));
            EarlyData early = new EarlyData();
            early.add(Unpooled.copiedBuffer("must not reach the pod", StandardCharsets.US_ASCII));
            try {
                Future<Http2StreamChannel> f = pool.connect(new PoolKey(CLIENT, SERVER, nodeB),
                        (InetSocketAddress) pod.getLocalAddress(), addr(CLIENT_IP, 40001), mesh.loops.worker().next(),
                        early).awaitUninterruptibly();
                assertThat(f.isSuccess()).isFalse();
                assertThat(TunnelException.reasonOf(f.cause(), null)).isEqualTo(CloseReason.POLICY_DENIED);
                assertThat(pod.accept()).as("the pod was never dialled").isNull();
            } finally {
                mesh.hboneB.useInboundGate(InboundGate.OPEN);
                early.release();
            }
        }
    }
}
