package dev.tessera.agent.state;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tessera.api.model.MeshSnapshot;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * "Synced" is what readiness reads: it must not turn true before the listeners (the certificate manager's
 * expected identities first of all) have processed the first snapshot, or {@code /healthz/ready} answers
 * 200 for an agent that does not yet know which certificates it must hold.
 */
class StateStoreTest {

    @Test
    void syncedTurnsTrueOnlyAfterEveryListenerProcessedTheFirstSnapshot() {
        var store = new StateStore();
        List<Boolean> seenByListeners = new ArrayList<>();
        store.addListener(s -> seenByListeners.add(store.synced()));
        store.addListener(s -> seenByListeners.add(store.synced()));
        assertThat(store.synced()).isFalse();

        var first = new MeshSnapshot(1, List.of(), List.of());
        store.update(first);

        assertThat(seenByListeners).as("synced() while listeners still process the first snapshot")
                .containsExactly(false, false);
        assertThat(store.synced()).isTrue();
        assertThat(store.current()).isSameAs(first);
    }

    @Test
    void listenersSeeTheNewSnapshotAsCurrent() {
        var store = new StateStore();
        List<Long> versions = new ArrayList<>();
        store.addListener(s -> versions.add(store.current().version()));
        store.update(new MeshSnapshot(1, List.of(), List.of()));
        store.update(new MeshSnapshot(2, List.of(), List.of()));
        assertThat(versions).containsExactly(1L, 2L);
    }
}
