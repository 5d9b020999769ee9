package dev.tessera.agent.outbound;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tessera.agent.connection.CloseReason;
import dev.tessera.agent.connection.ConnectionContext.RouteKind;
import dev.tessera.api.identity.SpiffeId;
import dev.tessera.api.model.MeshSnapshot;
import dev.tessera.api.model.NodeInfo;
import dev.tessera.api.model.Service;
import dev.tessera.api.model.Workload;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class OutboundRouteTest {

    private static final SpiffeId WEB = SpiffeId.parse("spiffe://cluster.local/ns/shop/sa/web");
    private static final SpiffeId DB = SpiffeId.parse("spiffe://cluster.local/ns/shop/sa/db");
    private static final Service DB_SVC = new Service("shop", "db", List.of(ip("198.19.0.10")),
            List.of(new Service.Port("pg", 5432, 15432)),
            List.of(new Service.Endpoint(ip("198.18.2.2"), true, "shop/db"),
                    new Service.Endpoint(ip("198.18.1.3"), false, "shop/cache"),
                    new Service.Endpoint(ip("198.18.1.4"), true, "shop/legacy")));
    private static final Service EMPTY_SVC = new Service("shop", "empty", List.of(ip("198.19.0.11")),
            List.of(new Service.Port("", 80, 8080)), List.of(new Service.Endpoint(ip("198.18.2.2"), false, "shop/db")));
    private static final MeshSnapshot MESH = new MeshSnapshot(1,
            List.of(new NodeInfo("n1", ip("198.18.0.1"), "198.18.1.0/24"), new NodeInfo("n2", ip("198.18.0.2"), "198.18.2.0/24")),
            List.of(w("web", "n1", "198.18.1.2", WEB, true), w("cache", "n1", "198.18.1.3", DB, true),
                    w("legacy", "n1", "198.18.1.4", SpiffeId.parse("spiffe://cluster.local/ns/shop/sa/legacy"), false),
                    w("db", "n2", "198.18.2.2", DB, true), w("ghost", "n9", "198.18.9.2", DB, true),
                    w("remote-web", "n2", "198.18.2.3", WEB, true)),
            List.of(DB_SVC, EMPTY_SVC));

    @Test
    void meshedRemoteDestinationGoesThroughHboneToItsNode() {
        OutboundRoute r = route("198.18.1.2", "198.18.2.2:5432");
        assertThat(r.rejected()).isFalse();
        assertThat(r.context().route()).isEqualTo(RouteKind.HBONE);
        assertThat(r.nextHop()).isEqualTo(new InetSocketAddress(ip("198.18.0.2"), 15008));
        assertThat(r.context().tunnelPeer()).isEqualTo(r.nextHop());
        assertThat(r.context().sourceIdentity()).isEqualTo(WEB);
        assertThat(r.context().destinationIdentity()).isEqualTo(DB);
        assertThat(r.context().destination()).isEqualTo(new InetSocketAddress(ip("198.18.2.2"), 5432));
    }

    @Test
    void table() {
        assertThat(route("198.18.1.2", "198.18.1.3:6379").context().route()).isEqualTo(RouteKind.LOCAL);
        assertThat(route("198.18.1.2", "198.18.1.4:80").context().route()).isEqualTo(RouteKind.PASSTHROUGH);
        assertThat(route("198.18.1.2", "198.18.200.1:443").context().route()).isEqualTo(RouteKind.PASSTHROUGH);
        assertThat(route("198.18.1.9", "198.18.2.2:5432").rejection()).isEqualTo(CloseReason.UNKNOWN_SOURCE);
        assertThat(route("198.18.1.4", "198.18.2.2:5432").rejection()).isEqualTo(CloseReason.NOT_MESHED_SOURCE);
        assertThat(route("198.18.2.3", "198.18.2.2:5432").rejection()).isEqualTo(CloseReason.SOURCE_NOT_LOCAL);
        assertThat(route("198.18.1.2", "198.18.9.2:5432").rejection()).isEqualTo(CloseReason.NO_NODE);
    }

    @Test
    void serviceVipIsBalancedOverReadyEndpointsOnTheirTargetPort() {
        var picks = new java.util.ArrayList<Integer>();
        OutboundRoute first = vipRoute(0, picks);
        assertThat(picks).containsExactly(2); // two ready endpoints: the not-ready one is never offered
        assertThat(first.context().service()).isEqualTo(DB_SVC);
        assertThat(first.context().route()).isEqualTo(RouteKind.HBONE);
        assertThat(first.context().destination()).isEqualTo(new InetSocketAddress(ip("198.18.2.2"), 15432));
        assertThat(first.context().destinationIdentity()).isEqualTo(DB);
        assertThat(first.nextHop()).isEqualTo(new InetSocketAddress(ip("198.18.0.2"), 15008));

        OutboundRoute second = vipRoute(1, picks);
        assertThat(second.context().route()).isEqualTo(RouteKind.PASSTHROUGH); // legacy is not meshed
        assertThat(second.nextHop()).isEqualTo(new InetSocketAddress(ip("198.18.1.4"), 15432));
        assertThat(second.context().service()).isEqualTo(DB_SVC);
    }

    @Test
    void serviceVipWithoutThePortOrReadyEndpointsIsRejected() {
        OutboundRoute wrongPort = OutboundRoute.resolve(MESH, "n1", new InetSocketAddress(ip("198.18.1.2"), 40000),
                new InetSocketAddress(ip("198.19.0.10"), 5433), 15008, n -> 0);
        assertThat(wrongPort.rejection()).isEqualTo(CloseReason.NO_SERVICE_PORT);
        assertThat(wrongPort.context().service()).isEqualTo(DB_SVC);
        OutboundRoute none = OutboundRoute.resolve(MESH, "n1", new InetSocketAddress(ip("198.18.1.2"), 40000),
                new InetSocketAddress(ip("198.19.0.11"), 80), 15008, n -> 0);
        assertThat(none.rejection()).isEqualTo(CloseReason.NO_HEALTHY_ENDPOINT);
    }

    private static OutboundRoute vipRoute(int index, List<Integer> picks) {
        return OutboundRoute.resolve(MESH, "n1", new InetSocketAddress(ip("198.18.1.2"), 40000),
                new InetSocketAddress(ip("198.19.0.10"), 5432), 15008, n -> {
                    picks.add(n);
                    return index;
                });
    }

    private static OutboundRoute route(String src, String dst) {
        String[] d = dst.split(":");
        return OutboundRoute.resolve(MESH, "n1", new InetSocketAddress(ip(src), 40000),
                new InetSocketAddress(ip(d[0]), Integer.parseInt(d[1])), 15008);
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
