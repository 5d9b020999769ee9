package dev.tessera.agent.redirect;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tessera.agent.admin.Readiness;
import dev.tessera.api.identity.SpiffeId;
import dev.tessera.api.model.MeshSnapshot;
import dev.tessera.api.model.NodeInfo;
import dev.tessera.api.model.Workload;
import java.net.InetAddress;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * A meshed pod the kernel refuses to enroll (its map is full) is never silent: it is reported, fails
 * readiness by name, and is enrolled at the next reconcile once there is room.
 */
class EnrollmentTest {

    private static final SpiffeId API = new SpiffeId("cluster.local", "shop", "api");

    /** A kernel map of {@code capacity} entries (E2BIG beyond, as the kernel answers a full hash map). */
    private static final class FakeMap implements Redirector {
        final Set<Long> entries = new HashSet<>();
        int capacity;

        FakeMap(int capacity) {
            this.capacity = capacity;
        }

        @Override
        public void enroll(long cookie) {
            if (!entries.contains(cookie) && entries.size() >= capacity) {
                throw new IllegalStateException("bpf_map_update_elem(tsr_enrolled): E2BIG (the map holds its "
                        + capacity + " entries)");
            }
            entries.add(cookie);
        }

        @Override
        public void unenroll(long cookie) {
            entries.remove(cookie);
        }

        @Override
        public Set<Long> enrolled() {
            return Set.copyOf(entries);
        }

        @Override
        public RedirectStats stats() {
            return null;
        }

        @Override
        public void uninstall() {}

        @Override
        public Optional<java.net.InetSocketAddress> take(java.net.InetSocketAddress client) {
            return Optional.empty();
        }

        @Override
        public void close() {}
    }

    @Test
    void aPodTheKernelRefusesFailsReadinessByNameUntilItIsEnrolled() throws Exception {
        var node = new NodeInfo("node1", InetAddress.getByName("198.18.0.1"), "198.18.1.0/24");
        var api = new Workload("shop", "api-1", "node1", InetAddress.getByName("198.18.1.2"), "api", Map.of(), true, API);
        var snapshot = new MeshSnapshot(1, List.of(node), List.of(api));
        var kernel = new FakeMap(0); // full
        // The pod's namespace: this process's own (a real file, so the cookie is real).
        var tuned = new java.util.ArrayList<String>();
        var enrollment = new Enrollment("node1", kernel, w -> Optional.of(Path.of("/proc/self/ns/net")),
                (pod, netns) -> tuned.add(pod + " " + netns));

        enrollment.reconcile(snapshot);
        assertThat(enrollment.captured()).isEmpty();
        assertThat(tuned).as("a pod that is not captured is not tuned").isEmpty();
        assertThat(enrollment.refused()).containsOnlyKeys("shop/api-1");
        assertThat(enrollment.refused().get("shop/api-1")).contains("E2BIG");
        assertThat(Readiness.unmet(Map.of("tsr_connect4", true), true, List.of(), Set.of(), enrollment.refused()))
                .singleElement().asString().startsWith("pods not captured [shop/api-1]").contains("E2BIG");

        kernel.capacity = 1; // room again (e.g. pods left)
        enrollment.reconcile(snapshot);
        assertThat(enrollment.refused()).isEmpty();
        assertThat(enrollment.captured()).containsExactly("shop/api-1");
        assertThat(kernel.entries).hasSize(1);
        assertThat(tuned).containsExactly("shop/api-1 /proc/self/ns/net");

        enrollment.reconcile(snapshot);
        assertThat(tuned).as("once per pod, not at every reconcile").hasSize(1);
    }

    @Test
    void aPodWhoseTuningFailsStaysCaptured() throws Exception {
        var node = new NodeInfo("node1", InetAddress.getByName("198.18.0.1"), "198.18.1.0/24");
        var api = new Workload("shop", "api-1", "node1", InetAddress.getByName("198.18.1.2"), "api", Map.of(), true, API);
        var kernel = new FakeMap(1);
        var enrollment = new Enrollment("node1", kernel, w -> Optional.of(Path.of("/proc/self/ns/net")),
                (pod, netns) -> {
                    throw new java.io.IOException("read-only /proc/sys");
                });

        enrollment.reconcile(new MeshSnapshot(1, List.of(node), List.of(api)));
        assertThat(enrollment.captured()).containsExactly("shop/api-1");
        assertThat(enrollment.refused()).isEmpty();
    }

    @Test
    void onlyTheKernelsDefaultTimeWaitReuseIsRaised() {
        assertThat(TimeWaitReuse.raised("2")).contains("1");
        assertThat(TimeWaitReuse.raised("1")).isEmpty();
        assertThat(TimeWaitReuse.raised("0")).as("a pod that switched reuse off keeps it off").isEmpty();
    }
}
