package dev.tessera.localcluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LocalClusterWatcherTest {

    static final Duration POLL = Duration.ofMillis(50);

    static String cluster(String... podNames) {
        var sb = new StringBuilder(ClusterDescriptionTest.NODES);
        for (String p : podNames) {
            sb.append(AddressPlanTest.pod("default", p, "node1"));
        }
        return sb.toString();
    }

    static List<String> podNames(ClusterDescription c) {
        return c.pods().stream().map(p -> p.getMetadata().getName()).toList();
    }

    /** Replaces a file the way many editors save: write a temp file, rename over the original. */
    static void replace(Path file, String content) throws Exception {
        Path tmp = file.resolveSibling(".tmp-" + file.getFileName());
        Files.writeString(tmp, content);
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    @Test
    void reloadsOnEditAndKeepsLastGoodOnInvalidEdit(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("cluster.yaml");
        Files.writeString(file, cluster("a"));
        var seen = new CopyOnWriteArrayList<ClusterDescription>();
        try (var w = new LocalClusterWatcher(file, POLL, seen::add)) {
            ClusterDescription first = w.start();
            assertThat(podNames(first)).containsExactly("a");
            assertThat(seen).containsExactly(first);

            Files.writeString(file, cluster("a", "b")); // in-place write
            await().atMost(Duration.ofSeconds(5)).until(() -> seen.size() == 2);
            assertThat(podNames(seen.get(1))).containsExactly("a", "b");

            replace(file, cluster("a", "b") + "{kind: Pod, apiVersion: v1, metadata: {name: c}, spec: {nodeName: node9}}\n");
            await().atMost(Duration.ofSeconds(5)).until(() -> w.lastError() != null);
            assertThat(w.lastError()).isEqualTo(
                    "cluster.yaml: Pod default/c: spec.nodeName: 'node9' (expected: one of the Nodes node1, node2)");
            assertThat(podNames(w.current())).containsExactly("a", "b");
            assertThat(seen).hasSize(2);

            replace(file, cluster("b", "c"));
            await().atMost(Duration.ofSeconds(5)).until(() -> seen.size() == 3);
            assertThat(podNames(w.current())).containsExactly("b", "c");
            assertThat(w.lastError()).isNull();

            Files.delete(file);
            await().atMost(Duration.ofSeconds(5)).until(() -> w.lastError() != null);
            assertThat(w.lastError()).contains("not found");
            assertThat(podNames(w.current())).containsExactly("b", "c");
        }
    }

    @Test
    void watchesFolderForNewAndRemovedFiles(@TempDir Path dir) throws Exception {
        Files.writeString(dir.resolve("00-base.yaml"), cluster());
        var seen = new CopyOnWriteArrayList<ClusterDescription>();
        try (var w = new LocalClusterWatcher(dir, POLL, seen::add)) {
            assertThat(w.start().pods()).isEmpty();

            Files.writeString(dir.resolve("10-pods.yaml"), AddressPlanTest.pod("default", "x", "node2"));
            await().atMost(Duration.ofSeconds(5)).until(() -> seen.size() == 2);
            assertThat(podNames(w.current())).containsExactly("x");

            Files.writeString(dir.resolve("notes.txt"), "ignored");
            Files.delete(dir.resolve("10-pods.yaml"));
            await().atMost(Duration.ofSeconds(5)).until(() -> seen.size() == 3);
            assertThat(w.current().pods()).isEmpty();
        }
    }

    @Test
    void invalidInitialDescriptionFailsStart(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("cluster.yaml");
        Files.writeString(file, ClusterDescriptionTest.NODES + "{kind: Deployment, apiVersion: apps/v1, metadata: {name: d}}");
        try (var w = new LocalClusterWatcher(file, POLL, c -> { })) {
            assertThatThrownBy(w::start).isInstanceOf(InvalidClusterException.class)
                    .hasMessageStartingWith("cluster.yaml (document 4): kind: 'Deployment'");
            assertThat(w.current()).isNull();
        }
    }
}
