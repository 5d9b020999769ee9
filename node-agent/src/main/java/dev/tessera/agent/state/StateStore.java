package dev.tessera.agent.state;

import static java.util.Objects.requireNonNull;

import dev.tessera.api.model.MeshSnapshot;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Holds the agent's current immutable {@link MeshSnapshot}. Connections read {@link #current()} once
 * and use that snapshot for their whole setup; updaters replace it whole and listeners run after.
 */
public final class StateStore {

    private static final Logger log = LoggerFactory.getLogger(StateStore.class);

    private volatile MeshSnapshot current = MeshSnapshot.EMPTY;
    private volatile boolean synced;
    private final List<Consumer<MeshSnapshot>> listeners = new CopyOnWriteArrayList<>();

    public MeshSnapshot current() {
        return current;
    }

    /**
     * True once a first complete snapshot arrived and every listener has processed it (so readiness never
     * sees "synced" while the certificate manager has not yet learnt which identities it must hold).
     */
    public boolean synced() {
        return synced;
    }

    public void update(MeshSnapshot snapshot) {
        requireNonNull(snapshot, "snapshot");
        current = snapshot;
        for (Consumer<MeshSnapshot> l : listeners) {
            try {
                l.accept(snapshot);
            } catch (RuntimeException e) {
                log.error("state listener failed for {}", snapshot, e);
            }
        }
        synced = true; // after the listeners: their derived state (expected certificates, enrollment) is current

    }

    public void addListener(Consumer<MeshSnapshot> listener) {
        listeners.add(requireNonNull(listener, "listener"));
    }
}
