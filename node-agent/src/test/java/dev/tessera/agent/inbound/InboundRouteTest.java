package dev.tessera.agent.inbound;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tessera.agent.connection.CloseReason;
import dev.tessera.api.identity.SpiffeId;
import dev.tessera.api.model.MeshSnapshot;
import dev.tessera.api.model.NodeInfo;
import dev.tessera.api.model.Workload;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.Http2Headers;
import java.net.InetAddress;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class InboundRouteTest {

    private static final SpiffeId WEB = SpiffeId.parse("spiffe://cluster.local/ns/shop/sa/web");
    private static final SpiffeId DB = SpiffeId.parse("spiffe://cluster.local/ns/shop/sa/db");
    private static final MeshSnapshot MESH = new MeshSnapshot(1,
            List.of(new NodeInfo("n1", ip("198.18.0.1"), "198.18.1.0/24"), new NodeInfo("n2", ip("198.18.0.2"), "198.18.2.0/24")),
            List.of(w("web", "n1", "198.18.1.2", WEB, true), w("db", "n1", "198.18.1.3", DB, true),
                    w("legacy", "n1", "198.18.1.4", SpiffeId.parse("spiffe://cluster.local/ns/shop/sa/legacy"), false),
                    w("web2", "n2", "198.18.2.2", WEB, true)));

    @Test
    void table() {
        assertThat(route("CONNECT", "198.18.1.2:80", WEB)).isNull();
        assertThat(route("GET", "198.18.1.2:80", WEB)).isEqualTo(CloseReason.BAD_REQUEST);
        assertThat(route("CONNECT", "web:80", WEB)).isEqualTo(CloseReason.BAD_REQUEST);
        assertThat(route("CONNECT", "198.18.1.2:0", WEB)).isEqualTo(CloseReason.BAD_REQUEST);
        assertThat(route("CONNECT", "198.18.1.9:80", WEB)).isEqualTo(CloseReason.TARGET_UNKNOWN);
        assertThat(route("CONNECT", "8.8.8.8:53", WEB)).isEqualTo(CloseReason.TARGET_UNKNOWN);
        assertThat(route("CONNECT", "198.18.1.4:80", WEB)).isEqualTo(CloseReason.TARGET_NOT_MESHED);
        assertThat(route("CONNECT", "198.18.2.2:80", WEB)).isEqualTo(CloseReason.TARGET_NOT_LOCAL);
        assertThat(route("CONNECT", "198.18.1.3:5432", WEB)).isEqualTo(CloseReason.IDENTITY_MISMATCH);
        assertThat(route("CONNECT", "198.18.1.3:5432", DB)).isNull();
    }

    @Test
    void allowedRouteNamesTargetAndWorkload() {
        Http2Headers h = new DefaultHttp2Headers().method("CONNECT").authority("198.18.1.2:8080");
        InboundRoute r = InboundRoute.resolve(h, MESH, "n1", WEB);
        assertThat(r.allowed()).isTrue();
        assertThat(r.target().getPort()).isEqualTo(8080);
        assertThat(r.workload().name()).isEqualTo("web");
    }

    /** The refusal; a refused route must also say it is not allowed (ConnectStream asks {@code allowed()}). */
    private static CloseReason route(String method, String authority, SpiffeId sni) {
        Http2Headers h = new DefaultHttp2Headers().method(method).authority(authority);
        InboundRoute r = InboundRoute.resolve(h, MESH, "n1", sni);
        assertThat(r.allowed()).as("allowed() of a route refused with %s", r.refusal()).isEqualTo(r.refusal() == null);
        return r.refusal();
    }

    private static Workload w(String name, String node, String ip, SpiffeId id, boolean meshed) {
        return new Workload("shop", name, node, ip(ip), id.serviceAccount(), Map.of(), meshed, id);
    }

    private static InetAddress ip(String s) {
        try {
            return InetAddress.getByName(s);
        } catch (java.net.UnknownHostException e) {
            throw new IllegalArgumentException(e);
        }
    }
}
