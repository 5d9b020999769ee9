package dev.tessera.api.fuzz;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.tessera.api.push.MeshCodec;
import dev.tessera.api.push.ProtocolException;
import dev.tessera.api.push.WireReader;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;

/**
 * The mesh model's wire codec directly (what SNAPSHOT and DELTA frames carry): the first byte picks the
 * element (node, workload, service, AuthorizationPolicy, PeerAuthentication), the rest is its encoding.
 * Reached through {@code Frames} too, but a fuzzer starting here spends no effort on frame headers. Bad
 * input may only fail with {@link ProtocolException}.
 */
class MeshCodecFuzzTest {

    @FuzzTest(maxDuration = "15s") // exploration (JAZZER_FUZZ=1) only; regression runs the corpus once
    void element(byte[] data) {
        if (data.length == 0) {
            return;
        }
        ByteBuf buf = Unpooled.wrappedBuffer(data, 1, data.length - 1);
        try {
            WireReader r = new WireReader(buf);
            Object decoded = switch ((data[0] & 0xff) % 5) {
                case 0 -> MeshCodec.node(r, "node");
                case 1 -> MeshCodec.workload(r, "workload");
                case 2 -> MeshCodec.service(r, "service");
                case 3 -> MeshCodec.authorizationPolicy(r, "authorizationPolicy");
                default -> MeshCodec.peerAuthentication(r, "peerAuthentication");
            };
            if (decoded == null) {
                throw new AssertionError("decoder returned null instead of a value or a ProtocolException");
            }
        } catch (ProtocolException expected) {
            // documented error
        } finally {
            buf.release();
        }
    }
}
