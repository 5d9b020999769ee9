package dev.tessera.agent.redirect;

import static java.util.Objects.requireNonNull;

import dev.tessera.agent.redirect.ffi.BpfMap;
import dev.tessera.agent.redirect.ffi.RedirectStructs;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Kernel TCP health per pair, read from the sockops program's {@code tsr_tcp_health} map (see
 * {@code ebpf-programs/src/tessera_tcp_health.h}): retransmissions and smoothed RTT of the captured pod
 * sockets (by pod IP and original destination IP) and of this agent's HBONE tunnel sockets (by node IPs).
 * Opened from the pins of an installed {@link BpfRedirector}; the agent writes its own netns cookie so
 * the program can tell its tunnels from other agents' on the same machine.
 */
public final class TcpHealthMap implements AutoCloseable {

    /** Size of {@code struct tsr_tcp_pair}. */
    public static final int PAIR_SIZE = 12;
    /** Size of {@code struct tsr_tcp_stats}. */
    public static final int STATS_SIZE = 32;
    private static final ByteOrder HOST = ByteOrder.nativeOrder();
    private static final int LIMIT = 16384;

    /** Which sockets a pair is measured on. */
    public enum Kind {
        /** A captured pod's socket (pod -> its node agent), keyed by the original destination. */
        POD,
        /** This agent's HBONE tunnel socket to another node. */
        TUNNEL
    }

    /**
     * One pair's counters.
     *
     * @param srtt latest smoothed RTT in microseconds
     */
    public record Pair(Kind kind, InetAddress source, InetAddress destination, long retransmits, long rttSamples,
            long rttSumMicros, long srttMicros, long connections) {}

    private final BpfMap health;
    private final BpfMap self;

    private TcpHealthMap(BpfMap health, BpfMap self) {
        this.health = health;
        this.self = self;
    }

    /** Opens the maps pinned under {@code pinDir} (an installed redirector's). */
    public static TcpHealthMap open(Path pinDir) {
        Pins pins = new Pins(requireNonNull(pinDir, "pinDir"));
        BpfMap health = BpfMap.openPinned(Pins.TCP_HEALTH, pins.map(Pins.TCP_HEALTH).toString(), PAIR_SIZE, STATS_SIZE);
        try {
            return new TcpHealthMap(health, BpfMap.openPinned(Pins.TCP_SELF, pins.map(Pins.TCP_SELF).toString(),
                    RedirectStructs.U32_SIZE, RedirectStructs.U64_SIZE));
        } catch (RuntimeException e) {
            health.close();
            throw e;
        }
    }

    /** Tells the program which network namespace this agent's tunnel sockets live in. */
    public void watchTunnelsOf(long netnsCookie) {
        self.update(RedirectStructs.u32(0), RedirectStructs.cookie(netnsCookie));
    }

    /** Every pair in the map (bounded walk). */
    public List<Pair> read() {
        List<Pair> out = new ArrayList<>();
        int n = 0;
        for (byte[] key : health.keys()) {
            if (++n > LIMIT) {
                break;
            }
            Optional<byte[]> value = health.lookup(key);
            value.ifPresent(v -> decode(key, v).ifPresent(out::add));
        }
        return out;
    }

    /** Removes a pair (e.g. of a pod that left the node). */
    public void remove(Pair p) {
        health.delete(key(p));
    }

    static Optional<Pair> decode(byte[] key, byte[] value) {
        ByteBuffer k = ByteBuffer.wrap(key).order(HOST);
        int kind = k.getInt(8);
        if (kind != 1 && kind != 2) {
            return Optional.empty();
        }
        ByteBuffer v = ByteBuffer.wrap(value).order(HOST);
        try {
            return Optional.of(new Pair(kind == 1 ? Kind.POD : Kind.TUNNEL,
                    InetAddress.getByAddress(java.util.Arrays.copyOfRange(key, 0, 4)),
                    InetAddress.getByAddress(java.util.Arrays.copyOfRange(key, 4, 8)),
                    v.getLong(0), v.getLong(8), v.getLong(16), Integer.toUnsignedLong(v.getInt(24)),
                    Integer.toUnsignedLong(v.getInt(28))));
        } catch (UnknownHostException e) {
            throw new IllegalStateException(e);
        }
    }

    static byte[] key(Pair p) {
        ByteBuffer k = ByteBuffer.allocate(PAIR_SIZE).order(HOST);
        k.put(RedirectStructs.ipv4Bytes(p.source()));
        k.put(RedirectStructs.ipv4Bytes(p.destination()));
        k.putInt(p.kind() == Kind.POD ? 1 : 2);
        return k.array();
    }

    @Override
    public void close() {
        health.close();
        self.close();
    }
}
