package dev.tessera.agent.fuzz;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.tessera.agent.connection.CloseReason;
import dev.tessera.agent.hbone.Hbone;
import dev.tessera.agent.inbound.InboundRoute;
import dev.tessera.api.identity.SpiffeId;
import dev.tessera.api.model.MeshSnapshot;
import dev.tessera.api.model.NodeInfo;
import dev.tessera.api.model.Workload;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http2.DefaultHttp2HeadersDecoder;
import io.netty.handler.codec.http2.Http2Exception;
import io.netty.handler.codec.http2.Http2Headers;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.Map;

/**
 * An HBONE CONNECT as a peer agent's bytes reach the server (and its answer the client): an HPACK header
 * block decoded by Netty with header validation on (its {@link Http2Exception} is the documented error of
 * that layer), then the server's decisions on it: {@link InboundRoute#resolve} ({@code :method},
 * {@code :authority}), the {@code tessera-source} hint ({@link Hbone#parseAuthority}, whose only error is
 * an {@link IllegalArgumentException} naming the authority), and the client's reading of a response
 * ({@code :status}, {@code tessera-reason}). Anything else thrown is a finding.
 */
class HboneConnectFuzzTest {

    private static final SpiffeId DB = new SpiffeId("cluster.local", "shop", "db");
    private static final MeshSnapshot SNAPSHOT = snapshot();

    private static MeshSnapshot snapshot() {
        try {
            var n1 = new NodeInfo("node1", InetAddress.getByName("198.18.0.1"), "198.18.1.0/24");
            var n2 = new NodeInfo("node2", InetAddress.getByName("198.18.0.2"), "198.18.2.0/24");
            return new MeshSnapshot(1, List.of(n1, n2), List.of(
                    new Workload("shop", "web", "node1", InetAddress.getByName("198.18.1.2"), "web", Map.of("app", "web"),
                            true, new SpiffeId("cluster.local", "shop", "web")),
                    new Workload("shop", "db", "node2", InetAddress.getByName("198.18.2.2"), "db", Map.of("app", "db"),
                            true, DB),
                    new Workload("legacy", "old", "node2", InetAddress.getByName("198.18.2.3"), "default", Map.of(),
                            false, new SpiffeId("cluster.local", "legacy", "default"))));
        } catch (java.net.UnknownHostException e) {
            throw new AssertionError(e);
        }
    }

    @FuzzTest(maxDuration = "15s") // exploration (JAZZER_FUZZ=1) only; regression runs the corpus once
    void connectHeaders(byte[] data) {
        Http2Headers headers;
        ByteBuf block = Unpooled.wrappedBuffer(data);
        try {
            headers = new DefaultHttp2HeadersDecoder(true).decodeHeaders(1, block);
        } catch (Http2Exception malformed) {
            return; // Netty refuses the frame: the connection or stream is reset before our code runs
        } finally {
            block.release();
        }
        InboundRoute route = InboundRoute.resolve(headers, SNAPSHOT, "node2", DB);
        if (route.allowed() == (route.refusal() != null)) {
            throw new AssertionError("allowed() disagrees with refusal " + route.refusal());
        }
        if (route.allowed() && !route.target().getAddress().equals(SNAPSHOT.workloads().stream()
                .filter(w -> w.name().equals("db")).findFirst().orElseThrow().ip())) {
            throw new AssertionError("CONNECT admitted to " + route.target() + ": the server must never be an open relay");
        }
        CharSequence hint = headers.get(Hbone.SOURCE_HEADER);
        if (hint != null) {
            authority(hint);
        }
        authority(headers.authority());
        Hbone.isAccepted(headers);
        CloseReason reason = Hbone.refusalReason(headers);
        if (reason == null) {
            throw new AssertionError("refusalReason returned null");
        }
    }

    private static void authority(CharSequence value) {
        try {
            InetSocketAddress a = Hbone.parseAuthority(value);
            if (a.getPort() < 1 || a.getPort() > 65535 || a.isUnresolved()) {
                throw new AssertionError("authority '" + value + "' parsed to " + a);
            }
        } catch (IllegalArgumentException expected) {
            if (expected.getMessage() == null || !expected.getMessage().startsWith("authority: ")) {
                throw new AssertionError("error does not name the field: " + expected.getMessage(), expected);
            }
        }
    }
}
