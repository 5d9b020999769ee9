package dev.tessera.agent.hbone;

import static dev.tessera.agent.testing.LoopbackMesh.*;
import static org.assertj.core.api.Assertions.assertThat;

import dev.tessera.agent.connection.ProxyCounters;
import dev.tessera.agent.testing.LoopbackMesh;
import dev.tessera.agent.tls.TlsContexts;
import io.netty.channel.EventLoop;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.util.concurrent.Future;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A burst of new connections arriving before the server's SETTINGS must not open a tunnel per 100 streams:
 * every HBONE server (an agent) announces {@link Hbone#MAX_CONCURRENT_STREAMS} and accepts only 32
 * connections per peer, so 10,000 connections opened at once used to take ~100 tunnels, some refused at
 * accept, failing the ~100 streams waiting on each (the soak's unexplained 99 resets).
 */
class HbonePoolBurstIT {

    private LoopbackMesh mesh;
    private HbonePool pool;

    @BeforeEach
    void start() {
        mesh = new LoopbackMesh();
        pool = new HbonePool(new TlsContexts(mesh.idsA), mesh.loops, new ProxyCounters());
    }

    @AfterEach
    void stop() {
        pool.close();
        mesh.close();
    }

    @Test
    void aBurstBeforeTheServersSettingsFillsAConnectionToTheAnnouncedLimit() throws Exception {
        int n = Hbone.MAX_CONCURRENT_STREAMS + 200;
        var key = new PoolKey(CLIENT, SERVER, new InetSocketAddress(mesh.configB.nodeIp(), mesh.configB.inboundPort()));
        EventLoop loop = mesh.loops.worker().next();
        // All on the connections' own event loop in one task: nothing from the server (no SETTINGS) is read
        // until every stream has been given a connection.
        List<Future<Http2StreamChannel>> streams = loop.submit(() -> {
            List<Future<Http2StreamChannel>> out = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                out.add(pool.connect(key, mesh.serverEcho, addr(CLIENT_IP, 20000 + i), loop));
            }
            return out;
        }).get();
        assertThat(pool.connections()).as("tunnels for %d streams", n).isEqualTo(2);
        int failed = 0;
        for (var f : streams) {
            if (!f.awaitUninterruptibly().isSuccess()) {
                failed++;
            }
        }
        assertThat(failed).as("streams refused").isZero();
        for (var f : streams) {
            f.getNow().close().awaitUninterruptibly();
        }
    }
}
