package dev.tessera.agent.testing;

import dev.tessera.api.push.MeshConfig;
import dev.tessera.controller.watch.MeshSource;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;

/** A controller {@link MeshSource} that publishes the states a test builds, when the test says so. */
public final class HandSource implements MeshSource {
    private final List<Consumer<MeshConfig>> listeners = new CopyOnWriteArrayList<>();
    private volatile MeshConfig current = MeshConfig.EMPTY;

    @Override
    public void start() {}

    @Override
    public MeshConfig current() {
        return current;
    }

    @Override
    public void addListener(Consumer<MeshConfig> l) {
        listeners.add(l);
    }

    /** Makes {@code c} the current state and tells every listener. */
    public synchronized void publish(MeshConfig c) {
        current = c;
        listeners.forEach(l -> l.accept(c));
    }

    @Override
    public void close() {}
}
