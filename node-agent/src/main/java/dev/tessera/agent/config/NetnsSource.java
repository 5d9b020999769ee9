package dev.tessera.agent.config;

/** Where the agent learns each local pod's network namespace ({@code --netns-source}). */
public enum NetnsSource {
    /** {@code network.json} written by {@code tessera local up} (local clusters of network namespaces). */
    LOCAL,
    /** The container runtime's sandbox specs on a real node (containerd or CRI-O), under {@code --host-root}. */
    CRI
}
