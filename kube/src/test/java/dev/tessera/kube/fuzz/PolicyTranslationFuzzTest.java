package dev.tessera.kube.fuzz;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.tessera.api.policy.PolicySet;
import dev.tessera.api.policy.Translation;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * Policy translation (AuthorizationPolicy and PeerAuthentication objects, as informers or the manifest
 * reader hand them over): the JSON/YAML is first read by fabric8 as the API client does (its own errors
 * are not ours), then translated. Translation never throws: an invalid object becomes a rejected
 * {@link Translation} whose errors name the field.
 */
class PolicyTranslationFuzzTest {

    private static final KubernetesSerialization SERIALIZATION = new KubernetesSerialization();

    @FuzzTest(maxDuration = "15s") // exploration (JAZZER_FUZZ=1) only; regression runs the corpus once
    void policy(byte[] data) {
        if (data.length == 0) {
            return;
        }
        String kind = (data[0] & 1) == 0 ? "AuthorizationPolicy" : "PeerAuthentication";
        String text = new String(data, 1, data.length - 1, StandardCharsets.UTF_8);
        GenericKubernetesResource object;
        try {
            object = SERIALIZATION.unmarshal(text, GenericKubernetesResource.class);
        } catch (RuntimeException notJsonOrYaml) {
            return; // fabric8's parser, before our code
        }
        if (object == null) {
            return;
        }
        object.setApiVersion("security.tessera.dev/v1alpha1");
        object.setKind(kind);
        PolicySet set = dev.tessera.kube.policy.PolicyTranslator.translate(1, List.of(object));
        for (Translation<?> t : set.rejected()) {
            if (t.errors().isEmpty() || t.errors().stream().anyMatch(e -> e == null || e.isBlank())) {
                throw new AssertionError("rejected without a reason: " + t);
            }
        }
    }
}
