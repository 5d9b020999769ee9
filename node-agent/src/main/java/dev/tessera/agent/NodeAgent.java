package dev.tessera.agent;

import dev.tessera.agent.config.AgentConfig;

/** Placeholder replaced at integration. */
final class NodeAgent implements AutoCloseable {
    static NodeAgent start(AgentConfig config) {
        throw new UnsupportedOperationException("wired at integration");
    }

    void awaitTermination() throws InterruptedException {}

    @Override
    public void close() {}
}
