package dev.tessera.controller.leader;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import java.util.List;
import java.util.Map;

/** Reads the Accepted condition of a policy object in tests. */
final class KubernetesControllerStatus {

    private KubernetesControllerStatus() {}

    @SuppressWarnings("unchecked")
    static Map<String, Object> accepted(GenericKubernetesResource o) {
        Object status = o == null ? null : o.getAdditionalProperties().get("status");
        if (!(status instanceof Map<?, ?> s) || !(s.get("conditions") instanceof List<?> l) || l.isEmpty()) {
            return Map.of();
        }
        return (Map<String, Object>) l.get(0);
    }
}
