package dev.tessera.api.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tessera.api.identity.SpiffeId;
import java.net.InetAddress;
import java.util.Map;
import org.junit.jupiter.api.Test;

class WorkloadCanonicalNamesTest {

    private static Workload pod(Map<String, String> labels) throws Exception {
        return new Workload("shop", "reviews-v1-7d9f8b6c5d-x2x4z", "node1", InetAddress.getByName("198.18.1.5"),
                "reviews", labels, true, new SpiffeId("cluster.local", "shop", "reviews"), "reviews-v1");
    }

    @Test
    void canonicalServiceTakesIstiosLabelThenTheRecommendedNameThenAppThenTheWorkloadName() throws Exception {
        assertThat(pod(Map.of("service.istio.io/canonical-name", "c", "app.kubernetes.io/name", "k", "app", "a"))
                .canonicalService()).isEqualTo("c");
        assertThat(pod(Map.of("app.kubernetes.io/name", "k", "app", "a")).canonicalService()).isEqualTo("k");
        assertThat(pod(Map.of("app", "a")).canonicalService()).isEqualTo("a");
        assertThat(pod(Map.of("version", "v1")).canonicalService()).isEqualTo("reviews-v1");
        assertThat(pod(Map.of("app", "")).canonicalService()).as("an empty label names nothing").isEqualTo("reviews-v1");
    }

    @Test
    void canonicalRevisionTakesIstiosLabelThenTheRecommendedVersionThenVersionThenLatest() throws Exception {
        assertThat(pod(Map.of("service.istio.io/canonical-revision", "r", "app.kubernetes.io/version", "k",
                "version", "v")).canonicalRevision()).isEqualTo("r");
        assertThat(pod(Map.of("app.kubernetes.io/version", "k", "version", "v")).canonicalRevision()).isEqualTo("k");
        assertThat(pod(Map.of("version", "v")).canonicalRevision()).isEqualTo("v");
        assertThat(pod(Map.of("app", "a")).canonicalRevision()).isEqualTo("latest");
    }

    @Test
    void aPodWithoutOwnerIsItsOwnWorkloadAndAnEmptyNameIsRefused() throws Exception {
        Workload w = new Workload("shop", "debug", "node1", InetAddress.getByName("198.18.1.6"), "default", Map.of(),
                true, new SpiffeId("cluster.local", "shop", "default"));
        assertThat(w.workloadName()).isEqualTo("debug");
        assertThat(w.canonicalService()).isEqualTo("debug");
        assertThat(w.withWorkloadName("tools").workloadName()).isEqualTo("tools");
        assertThatThrownBy(() -> w.withWorkloadName("")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("workloadName");
    }
}
