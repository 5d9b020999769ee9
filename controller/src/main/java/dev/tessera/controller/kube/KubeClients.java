package dev.tessera.controller.kube;

import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.ConfigBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;

/**
 * The controller's API client: the given configuration (in-cluster service account or kubeconfig) with
 * the User-Agent {@value #USER_AGENT}, which names the controller in audit logs and lets tests tell its
 * requests from their own.
 */
public final class KubeClients {

    /** The controller's User-Agent. */
    public static final String USER_AGENT = "tessera-controller";

    private KubeClients() {}

    /** A client from the environment (in-cluster config or {@code ~/.kube/config}). */
    public static KubernetesClient fromEnvironment() {
        return create(Config.autoConfigure(null));
    }

    /** A client for {@code base} with the controller's User-Agent. */
    public static KubernetesClient create(Config base) {
        Config config = new ConfigBuilder(base).withUserAgent(USER_AGENT).build();
        return new KubernetesClientBuilder().withConfig(config).build();
    }
}
