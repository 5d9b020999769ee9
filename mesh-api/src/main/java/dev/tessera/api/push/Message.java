package dev.tessera.api.push;

import static java.util.Objects.requireNonNull;

import dev.tessera.api.identity.SpiffeId;
import dev.tessera.api.push.MeshConfig;
import java.security.cert.X509Certificate;
import java.util.List;
import org.bouncycastle.pkcs.PKCS10CertificationRequest;

/**
 * The messages of the controller-agent protocol (port 15012), one per {@link FrameType}. {@link Frames}
 * encodes and decodes them; the layout of each is documented on its record.
 */
public sealed interface Message {

    /** The frame type this message travels as. */
    FrameType type();

    /**
     * agent -> controller, first frame: {@code u16 protocolVersion, str node, str token, u64 epoch,
     * u64 version}, then from protocol version 2 on {@code u16 minProtocolVersion}. {@code protocolVersion}
     * is the highest version the agent speaks and {@code minProtocolVersion} the lowest (a version-1 HELLO
     * has no such field: its one version is both). {@code epoch}/{@code version} say what the agent
     * already holds (0/0: nothing). See {@link ProtocolVersions}.
     */
    record Hello(int protocolVersion, int minProtocolVersion, String node, String token, long epoch, long version)
            implements Message {
        public Hello {
            requireNonNull(node, "node");
            requireNonNull(token, "token");
            new ProtocolVersions.Range(minProtocolVersion, protocolVersion); // checks both
            if (protocolVersion == 1 && minProtocolVersion != 1) {
                throw new IllegalArgumentException("minProtocolVersion: " + minProtocolVersion + " (expected: 1 in a version-1 HELLO)");
            }
        }

        /** A HELLO speaking exactly one version. */
        public Hello(int protocolVersion, String node, String token, long epoch, long version) {
            this(protocolVersion, protocolVersion, node, token, epoch, version);
        }

        /** The versions the agent speaks. */
        public ProtocolVersions.Range versions() {
            return new ProtocolVersions.Range(minProtocolVersion, protocolVersion);
        }

        @Override
        public FrameType type() {
            return FrameType.HELLO;
        }

        @Override
        public String toString() { // never log the token
            return "Hello[protocolVersion=" + protocolVersion + ", minProtocolVersion=" + minProtocolVersion + ", node="
                    + node + ", token=<" + token.length() + " characters>, epoch=" + epoch + ", version=" + version + "]";
        }
    }

    /**
     * controller -> agent, protocol version 2 on, the answer to HELLO before any SNAPSHOT/DELTA:
     * {@code u16 protocolVersion} (the version chosen for this session), {@code u16 minProtocolVersion,
     * u16 maxProtocolVersion} (the versions the controller speaks). Never sent when version 1 is chosen.
     */
    record Welcome(int protocolVersion, int minProtocolVersion, int maxProtocolVersion) implements Message {
        public Welcome {
            new ProtocolVersions.Range(minProtocolVersion, maxProtocolVersion); // checks both
            if (protocolVersion < 2 || protocolVersion > 65535) {
                throw new IllegalArgumentException("protocolVersion: " + protocolVersion + " (expected: 2-65535; version 1 has no WELCOME)");
            }
        }

        /** The versions the controller speaks. */
        public ProtocolVersions.Range versions() {
            return new ProtocolVersions.Range(minProtocolVersion, maxProtocolVersion);
        }

        @Override
        public FrameType type() {
            return FrameType.WELCOME;
        }
    }

    /**
     * controller -> agent: {@code u64 epoch, u64 version, certs trustBundle, nodes, workloads, services,
     * authorizationPolicies, peerAuthentications} (see {@link MeshCodec}).
     */
    record Snapshot(long epoch, List<X509Certificate> trustBundle, MeshConfig config) implements Message {
        public Snapshot {
            trustBundle = List.copyOf(trustBundle);
            requireNonNull(config, "config");
        }

        @Override
        public FrameType type() {
            return FrameType.SNAPSHOT;
        }
    }

    /**
     * controller -> agent: {@code u64 epoch, u64 fromVersion, u64 toVersion, u8 bundlePresent [certs],
     * then for nodes, workloads, services, authorizationPolicies, peerAuthentications: upserts, removed keys}.
     *
     * @param trustBundle the new trust bundle, or {@code null} when unchanged
     */
    record Delta(long epoch, List<X509Certificate> trustBundle, MeshDelta delta) implements Message {
        public Delta {
            trustBundle = trustBundle == null ? null : List.copyOf(trustBundle);
            requireNonNull(delta, "delta");
        }

        @Override
        public FrameType type() {
            return FrameType.DELTA;
        }
    }

    /** agent -> controller: {@code u64 version} applied. */
    record Ack(long version) implements Message {
        @Override
        public FrameType type() {
            return FrameType.ACK;
        }
    }

    /** agent -> controller: {@code u64 version, str error}; the controller answers with a SNAPSHOT. */
    record Nack(long version, String error) implements Message {
        public Nack {
            requireNonNull(error, "error");
        }

        @Override
        public FrameType type() {
            return FrameType.NACK;
        }
    }

    /** agent -> controller: {@code u64 requestId, str spiffeId, bytes pkcs10Der}. */
    record Csr(long requestId, SpiffeId id, PKCS10CertificationRequest csr) implements Message {
        public Csr {
            requireNonNull(id, "id");
            requireNonNull(csr, "csr");
        }

        @Override
        public FrameType type() {
            return FrameType.CSR;
        }
    }

    /** controller -> agent: {@code u64 requestId, certs chain (leaf first), certs trustBundle}. */
    record Cert(long requestId, List<X509Certificate> chain, List<X509Certificate> trustBundle) implements Message {
        public Cert {
            chain = List.copyOf(chain);
            trustBundle = List.copyOf(trustBundle);
        }

        @Override
        public FrameType type() {
            return FrameType.CERT;
        }
    }

    /** controller -> agent: {@code u64 requestId, str reason, str message}. */
    record Refused(long requestId, String reason, String message) implements Message {
        public Refused {
            requireNonNull(reason, "reason");
            requireNonNull(message, "message");
        }

        @Override
        public FrameType type() {
            return FrameType.REFUSED;
        }
    }

    /** Either way: {@code u64 nonce}, answered by a PONG with the same nonce. */
    record Ping(long nonce) implements Message {
        @Override
        public FrameType type() {
            return FrameType.PING;
        }
    }

    /** Either way: {@code u64 nonce} of the PING answered. */
    record Pong(long nonce) implements Message {
        @Override
        public FrameType type() {
            return FrameType.PONG;
        }
    }

    /** controller -> agent: {@code str reason}; the connection closes next, the agent reconnects later. */
    record GoAway(String reason) implements Message {
        public GoAway {
            requireNonNull(reason, "reason");
        }

        @Override
        public FrameType type() {
            return FrameType.GOAWAY;
        }
    }

    /** Either way: {@code str reason}; the sender closes the connection next. */
    record ErrorFrame(String reason) implements Message {
        public ErrorFrame {
            requireNonNull(reason, "reason");
        }

        @Override
        public FrameType type() {
            return FrameType.ERROR;
        }
    }
}
