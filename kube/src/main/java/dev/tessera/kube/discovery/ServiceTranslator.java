package dev.tessera.kube.discovery;

import static java.util.Objects.requireNonNull;

import dev.tessera.api.model.Service.Endpoint;
import dev.tessera.api.model.Service.Port;
import dev.tessera.api.model.Service;
import io.fabric8.kubernetes.api.model.IntOrString;
import io.fabric8.kubernetes.api.model.ObjectReference;
import io.fabric8.kubernetes.api.model.ServicePort;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointConditions;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointPort;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;

/**
 * Turns a Kubernetes Service and its EndpointSlices into the mesh's {@link Service}; shared by the
 * controller (informer caches) and local mode (manifests), so both give the same result for the same
 * objects. Reads the objects only (they may be shared caches).
 *
 * <p>Rules: {@code ExternalName} Services are not part of the mesh. A port's target port is the port of
 * the EndpointSlice port with the same name (that is where Kubernetes puts a resolved named
 * {@code targetPort}); else a numeric {@code targetPort}; else a named one resolved by
 * {@code namedPorts} (local mode: the selected pods' container ports); else {@code port} when
 * {@code targetPort} is absent. A port that cannot be resolved is left out with a warning. Endpoints are
 * the IPv4 addresses of the slices, in slice then endpoint order, each address once; an endpoint whose
 * {@code conditions.ready} is absent counts as ready (the EndpointSlice API's rule).
 */
public final class ServiceTranslator {

    /** The label linking an EndpointSlice to its Service. */
    public static final String SERVICE_NAME_LABEL = "kubernetes.io/service-name";

    private ServiceTranslator() {}

    /** The Service's name an EndpointSlice belongs to, if it has the {@value #SERVICE_NAME_LABEL} label. */
    public static Optional<String> serviceOf(EndpointSlice slice) {
        Map<String, String> labels = slice.getMetadata() == null ? null : slice.getMetadata().getLabels();
        String name = labels == null ? null : labels.get(SERVICE_NAME_LABEL);
        return name == null || name.isEmpty() ? Optional.empty() : Optional.of(name);
    }

    /**
     * The mesh Service, or empty for an {@code ExternalName} Service.
     *
     * @param svc the Service
     * @param vips its virtual IPs (see {@link #clusterIps})
     * @param slices its EndpointSlices
     * @param namedPorts resolves a named {@code targetPort} when no slice names it (may return empty)
     * @param warnings receives one line per port left out
     */
    public static Optional<Service> translate(io.fabric8.kubernetes.api.model.Service svc, List<InetAddress> vips,
            List<EndpointSlice> slices, Function<String, Optional<Integer>> namedPorts, List<String> warnings) {
        requireNonNull(svc, "svc");
        requireNonNull(slices, "slices");
        requireNonNull(namedPorts, "namedPorts");
        if (svc.getSpec() == null || "ExternalName".equals(svc.getSpec().getType())) {
            return Optional.empty();
        }
        String ns = namespace(svc);
        String name = svc.getMetadata().getName();
        var slicePorts = new LinkedHashMap<String, Integer>();
        for (EndpointSlice s : slices) {
            if (s.getPorts() != null) {
                for (EndpointPort p : s.getPorts()) {
                    if (p.getPort() != null && ("TCP".equals(p.getProtocol()) || p.getProtocol() == null)) {
                        slicePorts.putIfAbsent(p.getName() == null ? "" : p.getName(), p.getPort());
                    }
                }
            }
        }
        var ports = new ArrayList<Port>();
        List<ServicePort> specPorts = svc.getSpec().getPorts() == null ? List.of() : svc.getSpec().getPorts();
        for (ServicePort p : specPorts) {
            if (p.getProtocol() != null && !"TCP".equals(p.getProtocol())) {
                continue; // the mesh carries TCP only
            }
            String portName = p.getName() == null ? "" : p.getName();
            Optional<Integer> target = targetPort(p, slicePorts, namedPorts);
            if (p.getPort() == null || target.isEmpty()) {
                warnings.add("Service " + ns + "/" + name + ": port " + (portName.isEmpty() ? p.getPort() : portName)
                        + ": targetPort " + (p.getTargetPort() == null ? "" : p.getTargetPort().getStrVal())
                        + " cannot be resolved (expected: a number, or a name some endpoint's pod declares); left out");
                continue;
            }
            try {
                ports.add(new Port(portName, p.getPort(), target.get()));
            } catch (IllegalArgumentException e) {
                warnings.add("Service " + ns + "/" + name + ": " + e.getMessage() + "; port left out");
            }
        }
        return Optional.of(new Service(ns, name, vips, ports, endpoints(slices)));
    }

    private static Optional<Integer> targetPort(ServicePort p, Map<String, Integer> slicePorts,
            Function<String, Optional<Integer>> namedPorts) {
        String portName = p.getName() == null ? "" : p.getName();
        Integer fromSlice = slicePorts.get(portName);
        if (fromSlice != null) {
            return Optional.of(fromSlice);
        }
        IntOrString t = p.getTargetPort();
        if (t == null || (t.getIntVal() == null && (t.getStrVal() == null || t.getStrVal().isEmpty()))) {
            return Optional.ofNullable(p.getPort());
        }
        if (t.getIntVal() != null) {
            return Optional.of(t.getIntVal());
        }
        return namedPorts.apply(t.getStrVal());
    }

    /**
     * Ready and not-ready endpoints of the slices (IPv4 and IPv6 slices: a dual-stack Service has one of each,
     * and a pod is then an endpoint under both addresses), each address once (the first slice wins).
     */
    public static List<Endpoint> endpoints(List<EndpointSlice> slices) {
        var byIp = new LinkedHashMap<InetAddress, Endpoint>();
        for (EndpointSlice s : slices) {
            if (!("IPv4".equals(s.getAddressType()) || "IPv6".equals(s.getAddressType())) || s.getEndpoints() == null) {
                continue;
            }
            for (io.fabric8.kubernetes.api.model.discovery.v1.Endpoint e : s.getEndpoints()) {
                EndpointConditions c = e.getConditions();
                boolean ready = c == null || c.getReady() == null || c.getReady();
                ObjectReference ref = e.getTargetRef();
                String workload = ref != null && "Pod".equals(ref.getKind()) && ref.getName() != null
                        ? (ref.getNamespace() == null ? namespace(s) : ref.getNamespace()) + "/" + ref.getName() : "";
                for (String a : e.getAddresses() == null ? List.<String>of() : e.getAddresses()) {
                    Addresses.literal(a).ifPresent(ip -> byIp.putIfAbsent(ip, new Endpoint(ip, ready, workload)));
                }
            }
        }
        return List.copyOf(byIp.values());
    }

    /** The cluster IPs of a Service, both families ({@code spec.clusterIPs}, else {@code spec.clusterIP}); none when headless. */
    public static List<InetAddress> clusterIps(io.fabric8.kubernetes.api.model.Service svc) {
        if (svc.getSpec() == null) {
            return List.of();
        }
        List<String> ips = svc.getSpec().getClusterIPs() != null && !svc.getSpec().getClusterIPs().isEmpty()
                ? svc.getSpec().getClusterIPs()
                : svc.getSpec().getClusterIP() == null ? List.of() : List.of(svc.getSpec().getClusterIP());
        var out = new ArrayList<InetAddress>();
        for (String ip : ips) {
            Addresses.literal(ip).ifPresent(out::add); // "None" (headless) is skipped
        }
        return List.copyOf(out);
    }

    /**
     * The services with every VIP that is a pod's IP or already another service's (in list order)
     * removed, one warning each; a {@link dev.tessera.api.model.MeshSnapshot} accepts the result.
     */
    public static List<Service> withoutConflicts(List<Service> services, java.util.Set<InetAddress> podIps,
            List<String> warnings) {
        var used = new java.util.HashMap<InetAddress, String>();
        var out = new ArrayList<Service>(services.size());
        for (Service s : services) {
            var kept = new ArrayList<InetAddress>();
            for (InetAddress vip : s.vips()) {
                String other = used.putIfAbsent(vip, s.key());
                if (other != null || podIps.contains(vip)) {
                    warnings.add("Service " + s.key() + ": VIP " + vip.getHostAddress() + " is also "
                            + (other != null ? "the VIP of " + other : "a pod's IP")
                            + " (expected: distinct addresses); VIP left out");
                } else {
                    kept.add(vip);
                }
            }
            out.add(kept.size() == s.vips().size() ? s : new Service(s.namespace(), s.name(), kept, s.ports(), s.endpoints()));
        }
        return out;
    }

    private static String namespace(io.fabric8.kubernetes.api.model.HasMetadata o) {
        String ns = o.getMetadata().getNamespace();
        return ns == null || ns.isEmpty() ? "default" : ns;
    }

    /** Literal IP parsing without DNS. */
    public static final class Addresses {
        private static final java.util.regex.Pattern IPV4 = java.util.regex.Pattern.compile("\\d{1,3}(\\.\\d{1,3}){3}");
        private static final java.util.regex.Pattern IPV6 = java.util.regex.Pattern.compile(
                "[0-9A-Fa-f:]*:[0-9A-Fa-f:]*(\\d{1,3}(\\.\\d{1,3}){3})?");

        private Addresses() {}

        /** An IPv4 literal {@code a.b.c.d}, or empty (never a DNS lookup). */
        public static Optional<InetAddress> ipv4(String text) {
            if (text == null || !IPV4.matcher(text).matches()) {
                return Optional.empty();
            }
            return parse(text);
        }

        /** An IPv4 or IPv6 literal (no zone, no brackets), or empty (never a DNS lookup). */
        public static Optional<InetAddress> literal(String text) {
            if (text != null && IPV6.matcher(text).matches()) {
                return parse(text);
            }
            return ipv4(text);
        }

        private static Optional<InetAddress> parse(String text) {
            try {
                return Optional.of(InetAddress.getByName(text));
            } catch (java.net.UnknownHostException e) {
                return Optional.empty(); // an octet above 255, a malformed IPv6 literal
            }
        }
    }
}
