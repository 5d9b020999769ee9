package dev.tessera.controller.push;

import static java.util.Objects.requireNonNull;

import dev.tessera.api.model.Workload;
import dev.tessera.api.push.Frames;
import dev.tessera.api.push.MeshConfig;
import dev.tessera.api.push.MeshDelta;
import dev.tessera.api.push.Message;
import dev.tessera.api.push.NodeFrames;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import java.security.cert.X509Certificate;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The published configurations, each encoded once and shared by every agent connection: the current
 * snapshot (encoded on first demand) and a bounded history of deltas for agents that resume or fall behind
 * within this epoch. Agents of protocol 1 and 2 receive the whole mesh: one SNAPSHOT or DELTA frame shared by
 * all of them. Agents of protocol 3 receive their node's view ({@link NodeFrames}): a small head with their
 * own pods, whole, followed by a part in the compact routing form that every node shares, so the large part
 * is still encoded once. Connections receive {@code retainedDuplicate()}s. All buffer reference changes
 * happen under this object's lock.
 */
final class ConfigHub implements AutoCloseable {

    /** Frames that bring an agent from its version to {@code version}. */
    record CatchUp(long version, List<ByteBuf> frames, boolean snapshot, long bundleGeneration) {
        CatchUp(long version, List<ByteBuf> frames, boolean snapshot) {
            this(version, frames, snapshot, 0);
        }
    }

    /**
     * One published change: the delta, its protocol-3/4 shared parts and empty heads (encoded at publish), and its
     * protocol-1/2 frame (encoded when a session of those versions first needs it).
     */
    private final class DeltaFrame {
        final long from;
        final long to;
        final MeshDelta delta;
        final ByteBuf shared;
        final ByteBuf emptyHead;
        /** Protocol 3's shared part and empty head: the same buffers unless the change has IPv6 parts. */
        final ByteBuf shared3;
        final ByteBuf emptyHead3;
        final Map<String, List<Workload>> localByNode = new HashMap<>();
        private ByteBuf legacy;

        DeltaFrame(MeshConfig prev, MeshDelta delta) {
            this.from = delta.fromVersion();
            this.to = delta.toVersion();
            this.delta = delta;
            this.shared = NodeFrames.deltaShared(alloc, prev, delta);
            this.emptyHead = NodeFrames.deltaHead(alloc, epoch, from, to, List.of(), shared.readableBytes());
            if (NodeFrames.differsBefore4(delta)) {
                this.shared3 = NodeFrames.deltaShared(alloc, prev, delta, 3);
                this.emptyHead3 = NodeFrames.deltaHead(alloc, epoch, from, to, List.of(), shared3.readableBytes());
            } else {
                this.shared3 = shared;
                this.emptyHead3 = emptyHead;
            }
            for (Workload w : delta.workloads()) {
                localByNode.computeIfAbsent(w.node(), k -> new ArrayList<>()).add(w);
            }
        }

        private ByteBuf legacy() {
            if (legacy == null) {
                legacy = Frames.encode(alloc, new Message.Delta(epoch, null, delta));
            }
            return legacy;
        }

        /** The frame for a session of {@code protocol} on {@code node}, the caller's to write or release. */
        ByteBuf frameFor(String node, int protocol) {
            if (protocol < 3) {
                return legacy().retainedDuplicate();
            }
            ByteBuf part = protocol == 3 ? shared3 : shared;
            List<Workload> local = localByNode.get(node);
            ByteBuf head = local == null ? (protocol == 3 ? emptyHead3 : emptyHead).retainedDuplicate()
                    : NodeFrames.deltaHead(alloc, epoch, from, to, local, part.readableBytes());
            return NodeFrames.frame(head, part);
        }

        /** The size of what a session of {@code protocol} receives, its node's own pods left out. */
        long bytes(int protocol) {
            return protocol < 3 ? legacy().readableBytes()
                    : protocol == 3 ? emptyHead3.readableBytes() + shared3.readableBytes()
                    : emptyHead.readableBytes() + shared.readableBytes();
        }

        void release() {
            shared.release();
            emptyHead.release();
            if (shared3 != shared) {
                shared3.release();
                emptyHead3.release();
            }
            if (legacy != null) {
                legacy.release();
            }
        }
    }

    private final long epoch;
    private final int historySize;
    private List<X509Certificate> trustBundle;
    private long bundleGeneration;
    private final ByteBufAllocator alloc;
    private final ArrayDeque<DeltaFrame> history = new ArrayDeque<>();
    private final Set<AgentSession> sessions = ConcurrentHashMap.newKeySet();
    private MeshConfig current = MeshConfig.EMPTY;
    private ByteBuf snapshotFrame; // protocol 1 and 2: the whole mesh
    private ByteBuf snapshotShared; // protocol 4: the part of every node's snapshot that all share
    private ByteBuf snapshotShared3; // protocol 3's, when it differs (a dual-stack mesh)
    private Map<String, List<Workload>> localByNode; // protocol 3: each node's own pods in the current state
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
        dropSnapshots();
        history.forEach(DeltaFrame::release);
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

    /** Encodes the change to {@code next} once (per form) and offers it to every registered session. */
    synchronized void publish(MeshConfig next) {
        if (closed || next.version() <= current.version()) {
            return; // stale or duplicate
        }
        MeshConfig prev = current;
        var delta = new DeltaFrame(prev, MeshDelta.diff(prev, next));
        history.addLast(delta);
        while (history.size() > historySize) {
            history.removeFirst().release();
        }
        current = next;
        dropSnapshots();
        for (AgentSession s : sessions) {
            s.offer(prev.version(), next.version(), delta.frameFor(s.node(), s.protocolVersion()));
        }
    }

    private void dropSnapshots() {
        if (snapshotFrame != null) {
            snapshotFrame.release();
            snapshotFrame = null;
        }
        if (snapshotShared3 != null && snapshotShared3 != snapshotShared) {
            snapshotShared3.release();
        }
        snapshotShared3 = null;
        if (snapshotShared != null) {
            snapshotShared.release();
            snapshotShared = null;
        }
        localByNode = null;
    }

    /**
     * Registers a session and returns what brings it up to date (called on the session's event loop, so
     * every later publish reaches it after these frames).
     */
    synchronized CatchUp register(AgentSession session, boolean sameEpoch, long version) {
        sessions.add(session);
        return catchUp(session.node(), session.protocolVersion(), sameEpoch, version);
    }

    void unregister(AgentSession session) {
        sessions.remove(session);
    }

    /**
     * The deltas from {@code version} to the current one when this epoch's history holds them all and they
     * are smaller than a snapshot; otherwise the snapshot, in the form {@code protocol} reads, as
     * {@code node} needs it. Empty frames when already current (or nothing published yet). Every buffer
     * returned is the caller's to write or release.
     */
    synchronized CatchUp catchUp(String node, int protocol, boolean sameEpoch, long version) {
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
                    bytes += d.bytes(protocol);
                    at = d.to;
                }
            }
            if (at == current.version() && !chain.isEmpty() && bytes < snapshotBytes(protocol)) {
                return new CatchUp(at, chain.stream().map(d -> d.frameFor(node, protocol)).toList(), false);
            }
        }
        ByteBuf frame;
        if (protocol < 3) {
            frame = snapshot().retainedDuplicate();
        } else {
            ByteBuf shared = snapshotShared(protocol);
            frame = NodeFrames.frame(NodeFrames.snapshotHead(alloc, epoch, current.version(), trustBundle,
                    localByNode().getOrDefault(node, List.of()), shared.readableBytes()), shared);
        }
        return new CatchUp(current.version(), List.of(frame), true, bundleGeneration);
    }

    private ByteBuf snapshot() {
        if (snapshotFrame == null) {
            snapshotFrame = Frames.encode(alloc, new Message.Snapshot(epoch, trustBundle, current));
        }
        return snapshotFrame;
    }

    private ByteBuf snapshotShared(int protocol) {
        if (snapshotShared == null) {
            snapshotShared = NodeFrames.snapshotShared(alloc, current);
        }
        if (protocol != 3) {
            return snapshotShared;
        }
        if (snapshotShared3 == null) {
            snapshotShared3 = NodeFrames.differsBefore4(current) ? NodeFrames.snapshotShared(alloc, current, 3)
                    : snapshotShared;
        }
        return snapshotShared3;
    }

    private Map<String, List<Workload>> localByNode() {
        if (localByNode == null) {
            var byNode = new HashMap<String, List<Workload>>();
            for (Workload w : current.mesh().workloads()) {
                byNode.computeIfAbsent(w.node(), k -> new ArrayList<>()).add(w);
            }
            localByNode = byNode;
        }
        return localByNode;
    }

    /** Size in bytes of the current snapshot in the form {@code protocol} reads, its node's own pods left out. */
    synchronized long snapshotBytes(int protocol) {
        if (current.version() == 0) {
            return 0;
        }
        return protocol < 3 ? snapshot().readableBytes() : snapshotShared(protocol).readableBytes();
    }

    @Override
    public synchronized void close() {
        closed = true;
        history.forEach(DeltaFrame::release);
        history.clear();
        dropSnapshots();
    }
}
