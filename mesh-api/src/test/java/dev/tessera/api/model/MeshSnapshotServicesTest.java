package dev.tessera.api.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tessera.api.identity.SpiffeId;
import java.net.InetAddress;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class MeshSnapshotServicesTest {

    private static final Workload DB = new Workload("shop", "db-1", "n2", ip("198.18.2.2"), "db", Map.of(), true,
            new SpiffeId("cluster.local", "shop", "db"));

    @Test
    void servicesAreFoundByKeyAndEveryVip() {
        var svc = service("db", "198.19.0.10", "198.19.0.11");
        var snap = new MeshSnapshot(3, List.of(), List.of(DB), List.of(svc));
        assertThat(snap.serviceByVip(ip("198.19.0.11"))).contains(svc);
        assertThat(snap.service("shop", "db")).contains(svc);
        assertThat(snap.serviceByVip(ip("198.18.2.2"))).isEmpty();
        assertThat(snap.toString()).contains("services=1");
        assertThat(svc.port(5432)).contains(new Service.Port("pg", 5432, 5432));
        assertThat(svc.port(80)).isEmpty();
        assertThat(svc.hostname("cluster.local")).isEqualTo("db.shop.svc.cluster.local");
    }

    @Test
    void readyEndpointsAreCountedAndPickedInOrderWithoutTheOthers() {
        var a = new Service.Endpoint(ip("198.18.1.2"), true, "shop/a");
        var b = new Service.Endpoint(ip("198.18.1.3"), false, "shop/b");
        var c = new Service.Endpoint(ip("198.18.1.4"), true, "shop/c");
        var svc = new Service("shop", "x", List.of(), List.of(), List.of(a, b, c));
        assertThat(svc.readyCount()).isEqualTo(2);
        assertThat(svc.readyEndpoint(0)).isEqualTo(a);
        assertThat(svc.readyEndpoint(1)).isEqualTo(c);
        assertThat(svc.readyEndpoints()).containsExactly(a, c);
        assertThatThrownBy(() -> svc.readyEndpoint(2)).hasMessage("index: 2 (expected: 0-1)");
    }

    @Test
    void conflictingAddressesAreRejectedWithBothNames() {
        assertThatThrownBy(() -> new MeshSnapshot(1, List.of(), List.of(),
                List.of(service("a", "198.19.0.10"), service("b", "198.19.0.10"))))
                .hasMessage("services: shop/b and shop/a share VIP 198.19.0.10 (expected: one service per VIP)");
        assertThatThrownBy(() -> new MeshSnapshot(1, List.of(), List.of(DB), List.of(service("a", "198.18.2.2"))))
                .hasMessage("services: shop/a VIP 198.18.2.2 is also the IP of pod shop/db-1 (expected: distinct addresses)");
        assertThatThrownBy(() -> new Service.Port("x", 0, 80)).hasMessage("port: 0 (expected: 1-65535)");
    }

    private static Service service(String name, String... vips) {
        return new Service("shop", name, java.util.Arrays.stream(vips).map(MeshSnapshotServicesTest::ip).toList(),
                List.of(new Service.Port("pg", 5432, 5432)), List.of(new Service.Endpoint(DB.ip(), true, DB.key())));
    }

    private static InetAddress ip(String s) {
        try {
            return InetAddress.getByName(s);
        } catch (java.net.UnknownHostException e) {
            throw new IllegalArgumentException(e);
        }
    }
}
