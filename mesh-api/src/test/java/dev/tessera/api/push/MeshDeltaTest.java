package dev.tessera.api.push;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tessera.api.push.MeshConfig;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import org.junit.jupiter.api.Test;

class MeshDeltaTest {

    @Test
    void applyingTheDiffGivesExactlyTheNewConfigOverManyRandomChanges() throws Exception {
        for (long seed = 0; seed < 20; seed++) {
            var mesh = new RandomMesh(seed);
            MeshConfig current = mesh.config(1, 3, 30, 4, 3);
            for (int step = 0; step < 50; step++) {
                MeshConfig next = mesh.mutate(current);
                MeshDelta delta = MeshDelta.diff(current, next);
                assertThat(RandomMesh.content(delta.apply(current))).as("seed %d step %d", seed, step)
                        .isEqualTo(RandomMesh.content(next));
                // and the same through the wire
                ByteBuf buf = Unpooled.buffer();
                try {
                    Frames.encode(new Message.Delta(1, null, delta), buf);
                    buf.skipBytes(Frames.LENGTH_FIELD);
                    MeshDelta decoded = ((Message.Delta) Frames.decode(buf)).delta();
                    assertThat(RandomMesh.content(decoded.apply(current))).isEqualTo(RandomMesh.content(next));
                } finally {
                    buf.release();
                }
                current = next;
            }
        }
    }

    @Test
    void chainedDeltasEqualOneCoalescedDelta() {
        var mesh = new RandomMesh(99);
        MeshConfig a = mesh.config(1, 2, 20, 3, 2);
        MeshConfig x = a;
        for (int i = 0; i < 10; i++) {
            MeshConfig y = mesh.mutate(x);
            x = MeshDelta.diff(x, y).apply(x);
        }
        assertThat(RandomMesh.content(MeshDelta.diff(a, x).apply(a))).isEqualTo(RandomMesh.content(x));
    }

    @Test
    void onlyChangedObjectsTravel() {
        var mesh = new RandomMesh(5);
        MeshConfig a = mesh.config(1, 2, 50, 3, 2);
        MeshDelta same = MeshDelta.diff(a, new MeshConfig(2, a.mesh(), a.policies()));
        assertThat(same.isEmpty()).isTrue();
        assertThat(same.toVersion()).isEqualTo(2);
        MeshConfig b = mesh.mutate(a);
        assertThat(MeshDelta.diff(a, b).size()).isBetween(1, 6);
    }

    @Test
    void aDeltaForAnotherVersionIsRefused() {
        var mesh = new RandomMesh(3);
        MeshConfig a = mesh.config(4, 1, 3, 0, 0);
        MeshDelta d = MeshDelta.diff(a, mesh.mutate(a));
        assertThatThrownBy(() -> d.apply(MeshConfig.EMPTY))
                .hasMessage("delta: from version 4 (expected: the applied version 0)");
    }
}
