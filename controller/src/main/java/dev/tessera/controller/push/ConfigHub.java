package dev.tessera.controller.push;

import static java.util.Objects.requireNonNull;

import dev.tessera.api.push.Frames;
import dev.tessera.api.push.MeshConfig;
import dev.tessera.api.push.MeshDelta;
import dev.tessera.api.push.Message;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import java.security.cert.X509Certificate;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The published configurations, each encoded once and shared by every agent connection: the current
 * snapshot frame (encoded on first demand) and a bounded history of delta frames for agents that resume
 * or fall behind within this epoch. Connections receive {@code retainedDuplicate()}s, so one encoding
 * serves a thousand agents. All buffer reference changes happen under this object's lock.
 */
final class ConfigHub implements AutoCloseable {

    /** Frames that bring an agent from its version to {@code version}. */
    record CatchUp(long version, List<ByteBuf> frames, boolean snapshot, long bundleGeneration) {
        CatchUp(long version, List<ByteBuf> frames, boolean snapshot) {
            this(version, frames, snapshot, 0);
        }
    }

    private record DeltaFrame(long from, long to, ByteBuf frame) {}

    private final long epoch;
    private final int historySize;
    private List<X509Certificate> trustBundle;
    private long bundleGeneration;
    private final ByteBufAllocator alloc;
    private final ArrayDeque<DeltaFrame> history = new ArrayDeque<>();
    private final Set<AgentSession> sessions = ConcurrentHashMap.newKeySet();
    private MeshConfig current = MeshConfig.EMPTY;
    private ByteBuf snapshotFrame;
    private boolean closed;

    ConfigHub(long epoch, int historySize, List<X509Certificate> trustBundle, ByteBufAllocator alloc) {
        this.epoch = epoch;
        this.historySize = historySize;
        this.trustBundle = List.copyOf(trustBundle);
        this.bundleGeneration = 1;
        this.alloc = requireNonNull(alloc, "alloc");
    }

    long epoch() {
        return epoch;
    }

    synchronized long bundleGeneration() {
        return bundleGeneration;
    }

    synchronized List<X509Certificate> trustBundle() {
        return trustBundle;
    }

    /**
     * Replaces the trust bundle (a root rotation): later snapshots carry the new one, the delta history is
     * dropped (a catch-up from now on is a snapshot, which carries it; its ACK tells the session the agent
     * applied it), and every session gets it at once in a bundle-only DELTA, followed by a PING whose PONG
     * tells the session the agent applied it.
     */
    synchronized void trustBundle(List<X509Certificate> bundle, long generation) {
        if (closed || generation <= bundleGeneration) {
            return;
        }
        trustBundle = List.copyOf(bundle);
        bundleGeneration = generation;
        if (snapshotFrame != null) {
            snapshotFrame.release();
            snapshotFrame = null;
        }
        history.forEach(d -> d.frame.release());
        history.clear();
        for (AgentSession s : sessions) {
            s.offerBundle(trustBundle, generation);
        }
    }

    synchronized MeshConfig current() {
        return current;
    }

    Set<AgentSession> sessions() {
        return sessions;
    }

    /** Encodes the change to {@code next} once and offers it to every registered session. */
    synchronized void publish(MeshConfig next) {
        if (closed || next.version() <= current.version()) {
            return; // stale or duplicate
        }
        MeshConfig prev = current;
        ByteBuf delta = Frames.encode(alloc, new Message.Delta(epoch, null, MeshDelta.diff(prev, next)));
        history.addLast(new DeltaFrame(prev.version(), next.version(), delta));
        while (history.size() > historySize) {
            history.removeFirst().frame.release();
        }
        current = next;
        if (snapshotFrame != null) {
            snapshotFrame.release();
            snapshotFrame = null;
        }
        for (AgentSession s : sessions) {
            s.offer(prev.version(), next.version(), delta.retainedDuplicate());
        }
    }

    /**
     * Registers a session and returns what brings it up to date (called on the session's event loop, so
     * every later publish reaches it after these frames).
     */
    synchronized CatchUp register(AgentSession session, boolean sameEpoch, long version) {
        sessions.add(session);
        return catchUp(sameEpoch, version);
    }

    void unregister(AgentSession session) {
        sessions.remove(session);
    }

    /**
     * The deltas from {@code version} to the current one when this epoch's history holds them all and they
     * are smaller than a snapshot; otherwise the snapshot. Empty frames when already current (or nothing
     * published yet). Every buffer returned is the caller's to write or release.
     */
    synchronized CatchUp catchUp(boolean sameEpoch, long version) {
        if (closed || current.version() == 0) {
            return new CatchUp(-1, List.of(), false); // nothing to send yet: the first publish brings a snapshot
        }
        if (sameEpoch && version == current.version()) {
            return new CatchUp(version, List.of(), false);
        }
        if (sameEpoch && version > 0) {
            var chain = new ArrayList<DeltaFrame>();
            long at = version;
            long bytes = 0;
            for (DeltaFrame d : history) {
                if (d.from == at) {
                    chain.add(d);
                    bytes += d.frame.readableBytes();
                    at = d.to;
                }
            }
            if (at == current.version() && !chain.isEmpty() && bytes < snapshot().readableBytes()) {
                return new CatchUp(at, chain.stream().map(d -> d.frame.retainedDuplicate()).toList(), false);
            }
        }
        return new CatchUp(current.version(), List.of(snapshot().retainedDuplicate()), true, bundleGeneration);
    }

    private ByteBuf snapshot() {
        if (snapshotFrame == null) {
            snapshotFrame = Frames.encode(alloc, new Message.Snapshot(epoch, trustBundle, current));
        }
        return snapshotFrame;
    }

    /** Size in bytes of the current snapshot frame (encodes it if needed). */
    synchronized int snapshotBytes() {
        return current.version() == 0 ? 0 : snapshot().readableBytes();
    }

    @Override
    public synchronized void close() {
        closed = true;
        history.forEach(d -> d.frame.release());
        history.clear();
        if (snapshotFrame != null) {
            snapshotFrame.release();
            snapshotFrame = null;
        }
    }
}
