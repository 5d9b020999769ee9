package dev.tessera.cli.kube;

import dev.tessera.api.config.Ports;
import dev.tessera.cli.observe.Versions;
import io.fabric8.kubernetes.api.model.Pod;
import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * {@code tessera version} against a cluster: the controller's and every agent's {@code tessera_build_info},
 * read through the API server's pod proxy, in the same shape as for a local cluster.
 */
public final class KubeVersions {

    private KubeVersions() {}

    /** The first controller pod that answers speaks for the controller; one component per agent pod's node. */
    public static Versions.Cluster collect(KubeCluster cluster) {
        Map<String, String> podByNode = new LinkedHashMap<>();
        for (Pod p : cluster.agentPods()) {
            podByNode.putIfAbsent(p.getSpec().getNodeName() == null ? p.getMetadata().getName() : p.getSpec().getNodeName(),
                    p.getMetadata().getName());
        }
        List<Pod> controllers = cluster.controllerPods();
        return Versions.collect(cluster.describe() + ", namespace " + cluster.namespace(), () -> {
            if (controllers.isEmpty()) {
                throw new IOException("no controller pod in namespace " + cluster.namespace());
            }
            IOException last = null;
            for (Pod c : controllers) {
                try {
                    return cluster.metrics(c.getMetadata().getName(), Ports.CONTROLLER_METRICS);
                } catch (IOException e) {
                    last = e;
                }
            }
            throw last;
        }, List.copyOf(podByNode.keySet()), node -> cluster.metrics(podByNode.get(node), Ports.METRICS));
    }
}
