package dev.tessera.api.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tessera.api.identity.SpiffeId;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** {@link MeshSnapshot#patch} gives what the constructor gives on the patched collections, refusals included. */
class MeshSnapshotPatchTest {

    private static final NodeInfo N1 = new NodeInfo("n1", ip("198.19.0.1"), "198.18.1.0/24");
    private static final Workload A = pod("a", "198.18.1.2");
    private static final Workload B = pod("b", "198.18.1.3");
    private static final Service S = service("s", "198.19.1.1");
    private static final MeshSnapshot BASE = new MeshSnapshot(1, List.of(N1), List.of(A, B), List.of(S));

    @Test
    void validChangesGiveTheSameSnapshotAsARebuild() {
        check(List.of(pod("a", "198.18.1.3"), pod("b", "198.18.1.2")), List.of(), List.of(), List.of()); // swap
        check(List.of(pod("c", "198.18.1.2")), List.of("shop/a"), List.of(), List.of()); // address freed, reused
        check(List.of(pod("a", "198.18.1.9")), List.of(), List.of(service("t", "198.18.1.2")), List.of()); // A's old IP
        check(List.of(), List.of("shop/b"), List.of(service("s", "198.19.1.2"), service("u", "198.19.1.1")), List.of());
        check(List.of(pod("a", "198.18.1.7"), pod("a", "198.18.1.8")), List.of("shop/zz"), List.of(), List.of("shop/s"));
        // dual-stack: found by either address, an IPv6 address freed and taken by another pod in the same patch
        check(List.of(dual("a", "198.18.1.2", "2001:db8::2"), dual("c", "198.18.1.4", "2001:db8::4")), List.of(),
                List.of(), List.of());
        check(List.of(pod("a", "198.18.1.2"), dual("c", "198.18.1.4", "2001:db8::2")), List.of(), List.of(), List.of());
    }

    @Test
    void conflictsAreRefusedAsARebuildRefusesThem() {
        refused(List.of(pod("c", "198.18.1.3")), List.of(), List.of(), "share IP 198.18.1.3");
        refused(List.of(pod("c", "198.18.1.9"), pod("d", "198.18.1.9")), List.of(), List.of(), "share IP 198.18.1.9");
        refused(List.of(), List.of(), List.of(service("t", "198.19.1.1")), "share VIP 198.19.1.1");
        refused(List.of(), List.of(), List.of(service("t", "198.18.1.2")), "VIP 198.18.1.2 is also the IP of pod shop/a");
        refused(List.of(pod("c", "198.19.1.1")), List.of(), List.of(), "VIP 198.19.1.1 is also the IP of pod shop/c");
        refused(List.of(dual("c", "198.18.1.9", "198.18.1.3")), List.of(), List.of(), "share IP 198.18.1.3");
        refused(List.of(dual("c", "198.18.1.9", "198.19.1.1")), List.of(), List.of(),
                "VIP 198.19.1.1 is also the IP of pod shop/c");
    }

    private static void check(List<Workload> upserts, List<String> removed, List<Service> svcUpserts, List<String> svcRemoved) {
        MeshSnapshot patched = BASE.patch(2, List.of(), List.of(), upserts, removed, svcUpserts, svcRemoved);
        MeshSnapshot rebuilt = rebuild(upserts, removed, svcUpserts, svcRemoved);
        assertThat(patched.version()).isEqualTo(2);
        assertThat(patched.nodes()).isEqualTo(rebuilt.nodes());
        assertThat(patched.workloads()).containsExactlyInAnyOrderElementsOf(rebuilt.workloads());
        assertThat(patched.services()).containsExactlyInAnyOrderElementsOf(rebuilt.services());
        for (Workload w : rebuilt.workloads()) {
            w.addresses().forEach(a -> assertThat(patched.workloadByIp(a)).contains(w));
        }
        for (Workload w : BASE.workloads()) { // an address no pod holds any more is free
            w.addresses().forEach(a -> assertThat(patched.workloadByIp(a)).isEqualTo(rebuilt.workloadByIp(a)));
        }
        for (Service s : rebuilt.services()) {
            s.vips().forEach(v -> assertThat(patched.serviceByVip(v)).contains(s));
        }
        assertThat(patched.workloadByIp(ip("198.18.1.250"))).isEmpty();
        assertThat(BASE.workloads()).containsExactlyInAnyOrder(A, B); // the base is untouched
    }

    private static void refused(List<Workload> upserts, List<String> removed, List<Service> svcUpserts, String message) {
        assertThatThrownBy(() -> rebuild(upserts, removed, svcUpserts, List.of())).hasMessageContaining(message);
        assertThatThrownBy(() -> BASE.patch(2, List.of(), List.of(), upserts, removed, svcUpserts, List.of()))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining(message);
    }

    private static MeshSnapshot rebuild(List<Workload> upserts, List<String> removed, List<Service> svcUpserts,
            List<String> svcRemoved) {
        var w = new LinkedHashMap<String, Workload>();
        BASE.workloads().forEach(x -> w.put(x.key(), x));
        removed.forEach(w::remove);
        upserts.forEach(x -> w.put(x.key(), x));
        var s = new LinkedHashMap<String, Service>();
        BASE.services().forEach(x -> s.put(x.key(), x));
        svcRemoved.forEach(s::remove);
        svcUpserts.forEach(x -> s.put(x.key(), x));
        return new MeshSnapshot(2, BASE.nodes().values(), new ArrayList<>(w.values()), new ArrayList<>(s.values()));
    }

    private static Workload pod(String name, String ip) {
        return new Workload("shop", name, "n1", ip(ip), "sa", Map.of(), true, new SpiffeId("cluster.local", "shop", "sa"));
    }

    private static Workload dual(String name, String ip, String other) {
        return pod(name, ip).withOtherIps(List.of(ip(other)));
    }

    private static Service service(String name, String vip) {
        return new Service("shop", name, List.of(ip(vip)), List.of(new Service.Port("http", 80, 8080)), List.of());
    }

    private static InetAddress ip(String s) {
        try {
            return InetAddress.getByName(s);
        } catch (java.net.UnknownHostException e) {
            throw new IllegalArgumentException(e);
        }
    }
}
