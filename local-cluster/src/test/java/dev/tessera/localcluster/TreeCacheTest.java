package dev.tessera.localcluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Instant;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Local mode re-parses only the manifest files that changed, and still gives what a full load gives. */
class TreeCacheTest {

    @TempDir
    Path dir;

    @Test
    void onlyChangedFilesAreParsedAgainAndTheResultEqualsAFullLoad() throws Exception {
        Files.writeString(dir.resolve("00-nodes.yaml"), "{kind: Node, apiVersion: v1, metadata: {name: n1}}\n");
        Files.writeString(dir.resolve("10-ns.yaml"), "{kind: Namespace, apiVersion: v1, metadata: {name: shop,"
                + " labels: {tessera.dev/dataplane-mode: ambient}}}\n");
        for (int i = 0; i < 5; i++) {
            write("20-pod-" + i + ".yaml", pod(i, "v1"), 1);
        }
        var cache = new ManifestReader.TreeCache();
        ClusterDescription first = ClusterDescription.load(dir, cache);
        assertThat(cache.parses()).isEqualTo(7);
        assertThat(ClusterDescription.load(dir, cache).pods()).hasSize(5);
        assertThat(cache.parses()).as("nothing changed: nothing parsed").isEqualTo(7);

        write("20-pod-3.yaml", pod(3, "v2"), 2);
        ClusterDescription edited = ClusterDescription.load(dir, cache);
        assertThat(cache.parses()).as("one file edited: one file parsed").isEqualTo(8);
        assertThat(edited.pod("shop", "p3").orElseThrow().getMetadata().getLabels()).containsEntry("version", "v2");
        assertThat(edited.toString()).isEqualTo(ClusterDescription.load(dir).toString());
        // fresh model objects for the edited file: the earlier description is untouched
        assertThat(first.pod("shop", "p3").orElseThrow().getMetadata().getLabels()).containsEntry("version", "v1");
        // the objects of unchanged files are kept, defaults and all (they are not converted again)
        assertThat(edited.pod("shop", "p0").orElseThrow()).isSameAs(first.pod("shop", "p0").orElseThrow());
        assertThat(edited.pod("shop", "p3").orElseThrow()).isNotSameAs(first.pod("shop", "p3").orElseThrow());

        Files.delete(dir.resolve("20-pod-4.yaml"));
        assertThat(ClusterDescription.load(dir, cache).pods()).hasSize(4);

        write("20-pod-1.yaml", "{kind: Pod, apiVersion: v1, metadata: {name: p1, namespace: shop}, spec: [", 3);
        assertThatThrownBy(() -> ClusterDescription.load(dir, cache)).hasMessageContaining("20-pod-1.yaml")
                .hasMessageContaining("unparsable");
        write("20-pod-1.yaml", pod(1, "v3"), 4);
        assertThat(ClusterDescription.load(dir, cache).pod("shop", "p1").orElseThrow().getMetadata().getLabels())
                .containsEntry("version", "v3");
    }

    private void write(String name, String yaml, int tick) throws Exception {
        Path f = dir.resolve(name);
        Files.writeString(f, yaml);
        // distinct modification times even on coarse-grained file systems
        Files.setLastModifiedTime(f, FileTime.from(Instant.parse("2026-01-01T00:00:00Z").plusSeconds(tick)));
    }

    private static String pod(int i, String version) {
        return "{kind: Pod, apiVersion: v1, metadata: {name: p" + i + ", namespace: shop, labels: {version: " + version
                + "}}, spec: {nodeName: n1, serviceAccountName: sa" + i + "}}\n";
    }
}
