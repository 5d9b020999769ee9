package dev.tessera.localcluster.fuzz;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.tessera.localcluster.ClusterDescription;
import dev.tessera.localcluster.InvalidClusterException;
import java.nio.charset.StandardCharsets;

/**
 * The local cluster description (the folder of manifests agents and the controller read in local mode):
 * any text either parses into a valid description or fails with {@link InvalidClusterException} whose
 * message says where and why; no other exception, no hang.
 */
class ManifestFuzzTest {

    @FuzzTest(maxDuration = "15s") // exploration (JAZZER_FUZZ=1) only; regression runs the corpus once
    void manifests(byte[] data) {
        String text = new String(data, StandardCharsets.UTF_8);
        try {
            ClusterDescription d = ClusterDescription.parse("fuzz.yaml", text);
            d.nodes();
            d.namespaces();
        } catch (InvalidClusterException expected) {
            if (expected.getMessage() == null || expected.getMessage().isBlank()) {
                throw new AssertionError("InvalidClusterException without a message", expected);
            }
        }
    }
}
