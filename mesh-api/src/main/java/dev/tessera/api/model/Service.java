package dev.tessera.api.model;

import static java.util.Objects.requireNonNull;

import java.net.InetAddress;
import java.util.List;
import java.util.Optional;

/**
 * A Kubernetes Service as the mesh sees it: its virtual IPs, its ports and the endpoints behind them.
 * Immutable; part of a {@link MeshSnapshot}. A connection to {@code vip:port} is balanced over the ready
 * endpoints, to their {@link Port#targetPort()}.
 *
 * @param namespace the Service's namespace
 * @param name the Service's name
 * @param vips the cluster IPs (empty for a headless Service)
 * @param ports the ports, each with the endpoint port it forwards to
 * @param endpoints the endpoints (from the Service's EndpointSlices), ready or not
 */
public record Service(String namespace, String name, List<InetAddress> vips, List<Port> ports,
        List<Endpoint> endpoints) {

    public Service {
        requireNonNull(namespace, "namespace");
        requireNonNull(name, "name");
        vips = List.copyOf(requireNonNull(vips, "vips"));
        ports = List.copyOf(requireNonNull(ports, "ports"));
        endpoints = List.copyOf(requireNonNull(endpoints, "endpoints"));
    }

    /**
     * One service port.
     *
     * @param name the port's name ({@code ""} when unnamed)
     * @param port the port on the VIP (1-65535)
     * @param targetPort the port on the endpoints (1-65535), resolved from a named target port
     */
    public record Port(String name, int port, int targetPort) {
        public Port {
            requireNonNull(name, "name");
            checkPort("port", port);
            checkPort("targetPort", targetPort);
        }
    }

    /**
     * One endpoint.
     *
     * @param ip the endpoint's address
     * @param ready whether it may receive new connections
     * @param workload the {@code namespace/name} of the pod behind it, or {@code ""} when not a pod
     */
    public record Endpoint(InetAddress ip, boolean ready, String workload) {
        public Endpoint {
            requireNonNull(ip, "ip");
            requireNonNull(workload, "workload");
        }
    }

    /** {@code namespace/name}. */
    public String key() {
        return namespace + "/" + name;
    }

    /** The port served on {@code port} of the VIPs. */
    public Optional<Port> port(int port) {
        for (Port p : ports) {
            if (p.port() == port) {
                return Optional.of(p);
            }
        }
        return Optional.empty();
    }

    /** The endpoints that may receive new connections. */
    public List<Endpoint> readyEndpoints() {
        return endpoints.stream().filter(Endpoint::ready).toList();
    }

    /** How many endpoints may receive new connections (no allocation: asked per connection). */
    public int readyCount() {
        int n = 0;
        for (Endpoint e : endpoints) {
            if (e.ready()) {
                n++;
            }
        }
        return n;
    }

    /** The {@code index}-th ready endpoint, in endpoint order (0 <= index < {@link #readyCount()}). */
    public Endpoint readyEndpoint(int index) {
        int n = 0;
        for (Endpoint e : endpoints) {
            if (e.ready() && n++ == index) {
                return e;
            }
        }
        throw new IndexOutOfBoundsException("index: " + index + " (expected: 0-" + (readyCount() - 1) + ")");
    }

    /** The Kubernetes DNS name, {@code name.namespace.svc.cluster.local} (for metrics labels). */
    public String hostname(String clusterDomain) {
        return name + "." + namespace + ".svc." + clusterDomain;
    }

    private static void checkPort(String field, int port) {
        if (port < 1 || port > 65535) {
            throw new IllegalArgumentException(field + ": " + port + " (expected: 1-65535)");
        }
    }
}
