package dev.tessera.controller.watch;

import dev.tessera.api.push.MeshConfig;
import java.util.function.Consumer;

/**
 * Where the controller's mesh state comes from: the Kubernetes API (informers) or, in local mode, a
 * folder of manifests. Either way it publishes immutable {@link MeshConfig}s with increasing versions.
 */
public interface MeshSource extends AutoCloseable {

    /** Starts watching; returns once a first state was published (or throws). */
    void start() throws Exception;

    /** The latest state ({@link MeshConfig#EMPTY} before the first one). */
    MeshConfig current();

    /** Adds a listener called with each new state, in version order, on the source's thread (keep it quick). */
    void addListener(Consumer<MeshConfig> listener);

    @Override
    void close();
}
