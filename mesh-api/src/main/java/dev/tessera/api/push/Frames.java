package dev.tessera.api.push;

import dev.tessera.api.identity.SpiffeId;
import dev.tessera.api.push.MeshConfig;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.Unpooled;
import java.io.IOException;
import org.bouncycastle.pkcs.PKCS10CertificationRequest;

/**
 * The frame layout of the controller-agent protocol, big-endian:
 * <pre>
 *   u32 length   bytes after this field: 1 (type) + payload; 1..{@link #MAX_FRAME_SIZE}
 *   u8  type     {@link FrameType#code()}
 *   ... payload  the message's fields ({@link Message} documents each)
 * </pre>
 */
public final class Frames {

    /** The highest protocol version this build speaks ({@link ProtocolVersions#CURRENT}). */
    public static final int PROTOCOL_VERSION = ProtocolVersions.CURRENT;
    /** Length prefix size. */
    public static final int LENGTH_FIELD = 4;
    /** Largest accepted {@code length} (type + payload): 64 MiB, room for a snapshot of ~300,000 pods. */
    public static final int MAX_FRAME_SIZE = 64 * 1024 * 1024;

    private Frames() {}

    /**
     * Encodes a whole frame (length, type, payload) into a new direct buffer from {@code alloc}, to be shared
     * by many channels. Fields are written into a plain heap buffer first and copied once: field-by-field
     * writes into a pooled, leak-tracked buffer cost far more (each access is tracked under paranoid leak
     * detection) than one copy.
     */
    public static ByteBuf encode(ByteBufAllocator alloc, Message m) {
        ByteBuf heap = Unpooled.buffer();
        try {
            encode(m, heap);
            ByteBuf out = alloc.directBuffer(heap.readableBytes());
            out.writeBytes(heap);
            return out;
        } finally {
            heap.release();
        }
    }

    /** Appends a whole frame to {@code out}. */
    public static void encode(Message m, ByteBuf out) {
        int start = out.writerIndex();
        out.writeInt(0); // length, patched below
        out.writeByte(m.type().code());
        var w = new WireWriter(out);
        if (m instanceof Message.Hello h) {
            w.u16(h.protocolVersion()).string(h.node()).string(h.token()).u64(h.epoch()).u64(h.version());
            if (h.protocolVersion() >= 2) { // version 1's HELLO ends here, and its decoders allow no trailing byte
                w.u16(h.minProtocolVersion());
            }
        } else if (m instanceof Message.Snapshot s) {
            w.u64(s.epoch()).u64(s.config().version()).certificates(s.trustBundle());
            MeshCodec.config(w, s.config());
        } else if (m instanceof Message.Delta d) {
            MeshDelta x = d.delta();
            w.u64(d.epoch()).u64(x.fromVersion()).u64(x.toVersion()).bool(d.trustBundle() != null);
            if (d.trustBundle() != null) {
                w.certificates(d.trustBundle());
            }
            w.list(x.nodes(), MeshCodec::node).strings(x.removedNodes());
            w.list(x.workloads(), MeshCodec::workload).strings(x.removedWorkloads());
            w.list(x.services(), MeshCodec::service).strings(x.removedServices());
            w.list(x.authorizationPolicies(), MeshCodec::authorizationPolicy).strings(x.removedAuthorizationPolicies());
            w.list(x.peerAuthentications(), MeshCodec::peerAuthentication).strings(x.removedPeerAuthentications());
        } else if (m instanceof Message.Ack a) {
            w.u64(a.version());
        } else if (m instanceof Message.Nack n) {
            w.u64(n.version()).string(n.error());
        } else if (m instanceof Message.Csr c) {
            try {
                w.u64(c.requestId()).string(c.id().toString()).bytes(c.csr().getEncoded());
            } catch (IOException e) {
                throw new IllegalArgumentException("csr: cannot encode (" + e.getMessage() + ")", e);
            }
        } else if (m instanceof Message.Cert c) {
            w.u64(c.requestId()).certificates(c.chain()).certificates(c.trustBundle());
        } else if (m instanceof Message.Refused r) {
            w.u64(r.requestId()).string(r.reason()).string(r.message());
        } else if (m instanceof Message.Ping p) {
            w.u64(p.nonce());
        } else if (m instanceof Message.Pong p) {
            w.u64(p.nonce());
        } else if (m instanceof Message.GoAway g) {
            w.string(g.reason());
        } else if (m instanceof Message.ErrorFrame e) {
            w.string(e.reason());
        } else if (m instanceof Message.Welcome v) {
            w.u16(v.protocolVersion()).u16(v.minProtocolVersion()).u16(v.maxProtocolVersion());
        } else {
            throw new IllegalArgumentException("message: " + m.getClass().getName() + " (expected: a Message record)");
        }
        int length = out.writerIndex() - start - LENGTH_FIELD;
        if (length > MAX_FRAME_SIZE) {
            throw new IllegalArgumentException("frame length: " + length + " (expected: at most " + MAX_FRAME_SIZE
                    + "; " + m.type() + " too large)");
        }
        out.setInt(start, length);
    }

    /** Checks a frame's length field. */
    public static void checkLength(long length, int maxFrameSize) throws ProtocolException {
        if (length < 1 || length > maxFrameSize) {
            throw new ProtocolException("frame length: " + length + " (expected: 1-" + maxFrameSize + ")");
        }
    }

    /** Decodes one frame's type and payload (everything after the length field); reads all of {@code frame}. */
    public static Message decode(ByteBuf frame) throws ProtocolException {
        var r = new WireReader(frame);
        FrameType type = FrameType.of(r.u8("frame type"));
        String t = type.name();
        Message m = switch (type) {
            case HELLO -> {
                int max = r.u16("HELLO.protocolVersion");
                if (max < 1) {
                    throw new ProtocolException("HELLO.protocolVersion: 0 (expected: 1-65535)");
                }
                String node = r.string("HELLO.node");
                String token = r.string("HELLO.token");
                long epoch = r.u64("HELLO.epoch");
                long version = r.u64("HELLO.version");
                int min = max == 1 ? 1 : r.u16("HELLO.minProtocolVersion");
                ProtocolVersions.read("HELLO", min, max);
                if (max > ProtocolVersions.CURRENT) {
                    // A newer agent's HELLO may carry fields this build does not know: the common prefix is
                    // enough to negotiate (or to refuse with the versions named), so they are skipped.
                    r.skipRest();
                }
                yield new Message.Hello(max, min, node, token, epoch, version);
            }
            case SNAPSHOT -> {
                long epoch = r.u64("SNAPSHOT.epoch");
                long version = r.u64("SNAPSHOT.version");
                var bundle = r.certificates("SNAPSHOT.trustBundle");
                MeshConfig config = MeshCodec.config(r, "SNAPSHOT", version);
                yield new Message.Snapshot(epoch, bundle, config);
            }
            case DELTA -> {
                long epoch = r.u64("DELTA.epoch");
                long from = r.u64("DELTA.fromVersion");
                long to = r.u64("DELTA.toVersion");
                var bundle = r.bool("DELTA.trustBundle.present") ? r.certificates("DELTA.trustBundle") : null;
                var delta = new MeshDelta(from, to,
                        r.list("DELTA.nodes", 13, MeshCodec::node), r.strings("DELTA.removedNodes"),
                        r.list("DELTA.workloads", 30, MeshCodec::workload), r.strings("DELTA.removedWorkloads"),
                        r.list("DELTA.services", 20, MeshCodec::service), r.strings("DELTA.removedServices"),
                        r.list("DELTA.authorizationPolicies", 18, MeshCodec::authorizationPolicy),
                        r.strings("DELTA.removedAuthorizationPolicies"),
                        r.list("DELTA.peerAuthentications", 18, MeshCodec::peerAuthentication),
                        r.strings("DELTA.removedPeerAuthentications"));
                yield new Message.Delta(epoch, bundle, delta);
            }
            case NODE_SNAPSHOT -> NodeFrames.decodeSnapshot(r);
            case NODE_DELTA -> NodeFrames.decodeDelta(r);
            case ACK -> new Message.Ack(r.u64("ACK.version"));
            case NACK -> new Message.Nack(r.u64("NACK.version"), r.string("NACK.error"));
            case CSR -> {
                long id = r.u64("CSR.requestId");
                String spiffe = r.string("CSR.spiffeId");
                SpiffeId sid = MeshCodec.build("CSR.spiffeId", () -> SpiffeId.parse(spiffe));
                byte[] der = r.bytes("CSR.csr");
                PKCS10CertificationRequest csr;
                try {
                    csr = new PKCS10CertificationRequest(der);
                } catch (IOException | RuntimeException e) {
                    throw new ProtocolException("CSR.csr: not a DER PKCS#10 request (" + e.getMessage() + ")");
                }
                yield new Message.Csr(id, sid, csr);
            }
            case CERT -> new Message.Cert(r.u64("CERT.requestId"), r.certificates("CERT.chain"),
                    r.certificates("CERT.trustBundle"));
            case REFUSED -> new Message.Refused(r.u64("REFUSED.requestId"), r.string("REFUSED.reason"),
                    r.string("REFUSED.message"));
            case PING -> new Message.Ping(r.u64("PING.nonce"));
            case PONG -> new Message.Pong(r.u64("PONG.nonce"));
            case GOAWAY -> new Message.GoAway(r.string("GOAWAY.reason"));
            case ERROR -> new Message.ErrorFrame(r.string("ERROR.reason"));
            case WELCOME -> {
                int chosen = r.u16("WELCOME.protocolVersion");
                int min = r.u16("WELCOME.minProtocolVersion");
                int max = r.u16("WELCOME.maxProtocolVersion");
                if (min < 1 || max < min) {
                    throw new ProtocolException("WELCOME.minProtocolVersion: " + min + " (expected: 1-" + max
                            + ", at most WELCOME.maxProtocolVersion)");
                }
                if (chosen < 2) {
                    throw new ProtocolException("WELCOME.protocolVersion: " + chosen
                            + " (expected: 2-65535; version 1 has no WELCOME)");
                }
                yield new Message.Welcome(chosen, min, max);
            }
        };
        r.end(t);
        return m;
    }
}
