package dev.tessera.controller;

import dev.tessera.controller.kube.PolicyResources;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** Test fixtures: creates manifests in the mock API server as a real cluster's users would. */
public final class MockCluster {

    private MockCluster() {}

    /** The test resource folder {@code mesh/}. */
    public static Path mesh() {
        try {
            return Path.of(MockCluster.class.getResource("/mesh/cluster.yaml").toURI()).getParent();
        } catch (java.net.URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Creates every object of a YAML file. */
    public static void apply(KubernetesClient client, Path file) throws IOException {
        apply(client, Files.readString(file));
    }

    /** Creates every object of a YAML text (policy CRDs as generic resources). */
    public static void apply(KubernetesClient client, String yaml) {
        List<HasMetadata> items;
        try (InputStream in = new ByteArrayInputStream(yaml.getBytes(StandardCharsets.UTF_8))) {
            items = client.load(in).items();
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        for (HasMetadata o : items) {
            if (o instanceof GenericKubernetesResource g) {
                client.genericKubernetesResources(PolicyResources.forKind(g.getKind()))
                        .inNamespace(g.getMetadata().getNamespace()).resource(g).create();
            } else {
                client.resource(o).create();
            }
        }
    }
}
