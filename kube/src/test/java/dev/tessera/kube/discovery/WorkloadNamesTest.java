package dev.tessera.kube.discovery;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tessera.kube.discovery.WorkloadNames.Owner;
import io.fabric8.kubernetes.api.model.OwnerReferenceBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import java.util.Map;
import org.junit.jupiter.api.Test;

class WorkloadNamesTest {

    private static Pod pod(String name, Map<String, String> labels, String ownerKind, String ownerName, Boolean controller) {
        var b = new PodBuilder().withNewMetadata().withName(name).withNamespace("shop").withLabels(labels).endMetadata();
        if (ownerKind != null) {
            b.editMetadata().addToOwnerReferences(new OwnerReferenceBuilder().withApiVersion("apps/v1")
                    .withKind(ownerKind).withName(ownerName).withUid("u-1").withController(controller).build())
                    .endMetadata();
        }
        return b.build();
    }

    @Test
    void aDeploymentsPodIsNamedAfterTheDeploymentNotItsReplicaSet() {
        Pod p = pod("reviews-v1-7d9f8b6c5d-x2x4z", Map.of("app", "reviews", "pod-template-hash", "7d9f8b6c5d"),
                "ReplicaSet", "reviews-v1-7d9f8b6c5d", true);
        assertThat(WorkloadNames.of(p)).isEqualTo(new Owner("reviews-v1", "Deployment"));
    }

    @Test
    void aBareReplicaSetOrOneWhoseNameLacksTheHashKeepsItsOwnName() {
        assertThat(WorkloadNames.of(pod("cache-abcde", Map.of(), "ReplicaSet", "cache", true)))
                .isEqualTo(new Owner("cache", "ReplicaSet"));
        assertThat(WorkloadNames.of(pod("cache-abcde", Map.of("pod-template-hash", "99999"), "ReplicaSet", "cache",
                true))).isEqualTo(new Owner("cache", "ReplicaSet"));
    }

    @Test
    void anArgoRolloutsReplicaSetNamesTheRollout() {
        Pod p = pod("web-6c8d5-abcde", Map.of("rollouts-pod-template-hash", "6c8d5"), "ReplicaSet", "web-6c8d5", true);
        assertThat(WorkloadNames.of(p)).isEqualTo(new Owner("web", "Rollout"));
    }

    @Test
    void statefulSetDaemonSetAndJobPodsAreNamedAfterTheirController() {
        assertThat(WorkloadNames.of(pod("db-0", Map.of(), "StatefulSet", "db", true)))
                .isEqualTo(new Owner("db", "StatefulSet"));
        assertThat(WorkloadNames.of(pod("agent-x7k2p", Map.of(), "DaemonSet", "agent", true)))
                .isEqualTo(new Owner("agent", "DaemonSet"));
        assertThat(WorkloadNames.of(pod("migrate-4kq9z", Map.of(), "Job", "migrate", true)))
                .isEqualTo(new Owner("migrate", "Job"));
    }

    @Test
    void aJobNamedWithACronJobsScheduleSuffixNamesTheCronJob() {
        assertThat(WorkloadNames.of(pod("report-28930140-9zq7m", Map.of(), "Job", "report-28930140", true)))
                .isEqualTo(new Owner("report", "CronJob"));
        // 7 and 11 digits are not a CronJob's scheduled-time suffix
        assertThat(WorkloadNames.of(pod("a-1234567-x", Map.of(), "Job", "a-1234567", true)))
                .isEqualTo(new Owner("a-1234567", "Job"));
        assertThat(WorkloadNames.of(pod("a-12345678901-x", Map.of(), "Job", "a-12345678901", true)))
                .isEqualTo(new Owner("a-12345678901", "Job"));
    }

    @Test
    void aPodWithoutAControllingOwnerIsItsOwnWorkload() {
        assertThat(WorkloadNames.of(pod("debug", Map.of("app", "tools"), null, null, null)))
                .isEqualTo(new Owner("debug", "Pod"));
        assertThat(WorkloadNames.of(pod("adopted", Map.of(), "StatefulSet", "db", false)))
                .as("an owner that is not the controller").isEqualTo(new Owner("adopted", "Pod"));
        assertThat(WorkloadNames.of(pod("adopted", Map.of(), "StatefulSet", "db", null)))
                .as("controller unset").isEqualTo(new Owner("adopted", "Pod"));
    }
}
