package dev.tessera.controller.push;

import static java.util.Objects.requireNonNull;

import dev.tessera.api.push.ProtocolVersions;
import java.net.InetAddress;
import java.time.Duration;
import java.util.List;

/**
 * How the config push server ({@link PushServer}) runs.
 *
 * @param bindAddress where to listen (all addresses by default)
 * @param port the port, {@value #PORT} by default (0: any free port, for tests)
 * @param trustDomain the mesh's trust domain (the server certificate's SPIFFE id)
 * @param namespace the controller's namespace: the certificate names {@code tessera-controller.<ns>.svc}
 * @param dnsNames further DNS SANs of the server certificate (e.g. {@code localhost})
 * @param ips IP SANs of the server certificate (addresses agents dial directly)
 * @param historySize how many deltas are kept for agents resuming within the same epoch
 * @param helloTimeout how long a new connection may take to authenticate
 * @param pingInterval idle time after which the server pings an agent (an agent silent for 3 intervals is dropped)
 * @param serverCertTtl lifetime of the server certificate (renewed at half life)
 * @param workerThreads event-loop threads (0: one per core)
 * @param limits unauthenticated connections, HELLO and CSR threads and queues ({@link PushLimits#defaults()})
 * @param protocolVersions the push-protocol versions served ({@link ProtocolVersions#CONTROLLER}: this build's and
 *     the one before); narrower only in tests, to stand in for a controller of another version
 */
public record PushServerConfig(InetAddress bindAddress, int port, String trustDomain, String namespace,
        List<String> dnsNames, List<InetAddress> ips, int historySize, Duration helloTimeout, Duration pingInterval,
        Duration serverCertTtl, int workerThreads, PushLimits limits, ProtocolVersions.Range protocolVersions) {

    /** The agents' port of the controller. */
    public static final int PORT = dev.tessera.api.config.Ports.CONTROLLER_PUSH;
    /** The controller's service account (its certificate's SPIFFE id). */
    public static final String SERVICE_ACCOUNT = "tessera-controller";

    public PushServerConfig {
        requireNonNull(bindAddress, "bindAddress");
        requireNonNull(trustDomain, "trustDomain");
        requireNonNull(namespace, "namespace");
        dnsNames = List.copyOf(dnsNames);
        ips = List.copyOf(ips);
        if (port < 0 || port > 65535) {
            throw new IllegalArgumentException("port: " + port + " (expected: 0-65535)");
        }
        if (historySize < 1) {
            throw new IllegalArgumentException("historySize: " + historySize + " (expected: at least 1)");
        }
        positive("helloTimeout", helloTimeout);
        positive("pingInterval", pingInterval);
        positive("serverCertTtl", serverCertTtl);
        if (workerThreads < 0) {
            throw new IllegalArgumentException("workerThreads: " + workerThreads + " (expected: >= 0)");
        }
        requireNonNull(limits, "limits");
        requireNonNull(protocolVersions, "protocolVersions");
        if (!ProtocolVersions.CONTROLLER.contains(protocolVersions.min())
                || !ProtocolVersions.CONTROLLER.contains(protocolVersions.max())) {
            throw new IllegalArgumentException("protocolVersions: " + protocolVersions + " (expected: within "
                    + ProtocolVersions.CONTROLLER + ", the versions this build speaks)");
        }
    }

    /** A configuration serving every version this build speaks. */
    public PushServerConfig(InetAddress bindAddress, int port, String trustDomain, String namespace,
            List<String> dnsNames, List<InetAddress> ips, int historySize, Duration helloTimeout, Duration pingInterval,
            Duration serverCertTtl, int workerThreads, PushLimits limits) {
        this(bindAddress, port, trustDomain, namespace, dnsNames, ips, historySize, helloTimeout, pingInterval,
                serverCertTtl, workerThreads, limits, ProtocolVersions.CONTROLLER);
    }

    /** Port 15012 on every address, {@code localhost} as extra SAN, 64 deltas of history. */
    public static PushServerConfig defaults(String trustDomain, String namespace) {
        try {
            return new PushServerConfig(InetAddress.getByName("0.0.0.0"), PORT, trustDomain, namespace,
                    List.of("localhost"), List.of(InetAddress.getByName("127.0.0.1")), 64, Duration.ofSeconds(10),
                    Duration.ofSeconds(15), Duration.ofHours(24), 0, PushLimits.defaults());
        } catch (java.net.UnknownHostException e) {
            throw new AssertionError(e);
        }
    }

    public PushServerConfig withBind(InetAddress address, int port) {
        return new PushServerConfig(address, port, trustDomain, namespace, dnsNames, ips, historySize, helloTimeout,
                pingInterval, serverCertTtl, workerThreads, limits, protocolVersions);
    }

    public PushServerConfig withHistorySize(int size) {
        return new PushServerConfig(bindAddress, port, trustDomain, namespace, dnsNames, ips, size, helloTimeout,
                pingInterval, serverCertTtl, workerThreads, limits, protocolVersions);
    }

    public PushServerConfig withSans(List<String> dns, List<InetAddress> addresses) {
        return new PushServerConfig(bindAddress, port, trustDomain, namespace, dns, addresses, historySize,
                helloTimeout, pingInterval, serverCertTtl, workerThreads, limits, protocolVersions);
    }

    public PushServerConfig withLimits(PushLimits l) {
        return new PushServerConfig(bindAddress, port, trustDomain, namespace, dnsNames, ips, historySize,
                helloTimeout, pingInterval, serverCertTtl, workerThreads, l, protocolVersions);
    }

    /** Serves only {@code versions} (tests: a controller that dropped a version, or one not upgraded yet). */
    public PushServerConfig withProtocolVersions(ProtocolVersions.Range versions) {
        return new PushServerConfig(bindAddress, port, trustDomain, namespace, dnsNames, ips, historySize,
                helloTimeout, pingInterval, serverCertTtl, workerThreads, limits, versions);
    }

    /** The service DNS names the certificate always carries. */
    public List<String> serviceNames() {
        return List.of(SERVICE_ACCOUNT + "." + namespace + ".svc", SERVICE_ACCOUNT + "." + namespace + ".svc.cluster.local");
    }

    private static void positive(String field, Duration d) {
        requireNonNull(d, field);
        if (d.isNegative() || d.isZero()) {
            throw new IllegalArgumentException(field + ": " + d + " (expected: a positive duration)");
        }
    }
}
