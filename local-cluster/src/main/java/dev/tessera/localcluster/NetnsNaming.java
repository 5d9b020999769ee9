package dev.tessera.localcluster;

import dev.tessera.api.netns.NetworkAttachments;

/**
 * Names the network namespaces of a local cluster: the path each node and pod namespace gets in
 * {@link NetworkAttachments}. {@link #STANDARD} is what {@code tessera local up} uses.
 */
public interface NetnsNaming {

    /**
     * {@code /var/run/netns/<cluster>_<node>} and {@code /var/run/netns/<cluster>_<namespace>_<pod>}:
     * Kubernetes names never contain {@code _}, so node and pod paths cannot collide.
     */
    NetnsNaming STANDARD = new NetnsNaming() {
        @Override
        public String node(String cluster, String node) {
            return "/var/run/netns/" + cluster + "_" + node;
        }

        @Override
        public String pod(String cluster, String namespace, String name) {
            return "/var/run/netns/" + cluster + "_" + namespace + "_" + name;
        }
    };

    /** The network namespace path of a node. */
    String node(String cluster, String node);

    /** The network namespace path of a pod. */
    String pod(String cluster, String namespace, String name);
}
