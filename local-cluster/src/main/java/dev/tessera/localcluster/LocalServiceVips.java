package dev.tessera.localcluster;

import static java.util.Objects.requireNonNull;

import dev.tessera.api.net.Ipv4Cidr;
import dev.tessera.kube.discovery.ServiceTranslator;
import io.fabric8.kubernetes.api.model.Service;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.zip.CRC32;

/**
 * Virtual IPs of the Services of a local cluster, which has no API server to allocate them. A Service
 * keeps its {@code spec.clusterIP(s)} when it gives IPv4 ones; every other non-headless Service gets an
 * address of the local service CIDR {@value #SERVICE_CIDR} (inside the 198.18.0.0/15 test range, apart
 * from the fabric 198.18.0.0/24 and the node pod CIDRs 198.18.i.0/24).
 *
 * <p>Allocation is stable: the address is derived from a CRC32 of {@code namespace/name}, probing upwards
 * past addresses taken by explicit cluster IPs or by Services earlier in {@code namespace/name} order.
 * So a Service keeps its VIP across edits unless a newly added Service collides with it first.
 */
public final class LocalServiceVips {

    /** The local service CIDR. */
    public static final String SERVICE_CIDR = "198.19.0.0/20";

    private static final Ipv4Cidr CIDR = Ipv4Cidr.parse(SERVICE_CIDR);

    private LocalServiceVips() {}

    /**
     * The VIPs of each Service by {@code namespace/name}: empty for headless ({@code clusterIP: None})
     * and {@code ExternalName} Services.
     *
     * @throws InvalidClusterException when the service CIDR is exhausted
     */
    public static Map<String, List<InetAddress>> allocate(List<Service> services) {
        requireNonNull(services, "services");
        var out = new LinkedHashMap<String, List<InetAddress>>();
        Set<Integer> taken = new HashSet<>();
        var sorted = services.stream().sorted(Comparator.comparing(LocalServiceVips::key)).toList();
        for (Service s : sorted) {
            List<InetAddress> explicit = ServiceTranslator.clusterIps(s);
            explicit.forEach(a -> taken.add(toInt(a)));
            if (!explicit.isEmpty()) {
                out.put(key(s), explicit);
            }
        }
        long usable = CIDR.size() - 2; // neither the network nor the broadcast address
        for (Service s : sorted) {
            if (out.containsKey(key(s))) {
                continue;
            }
            if (s.getSpec() == null || "ExternalName".equals(s.getSpec().getType())
                    || "None".equals(s.getSpec().getClusterIP())) {
                out.put(key(s), List.of());
                continue;
            }
            var crc = new CRC32();
            crc.update(key(s).getBytes(StandardCharsets.UTF_8));
            long start = crc.getValue() % usable;
            Integer chosen = null; // addresses above 128.0.0.0 are negative ints: no sentinel value
            for (long i = 0; i < usable && chosen == null; i++) {
                int candidate = CIDR.address(1 + (start + i) % usable);
                if (taken.add(candidate)) {
                    chosen = candidate;
                }
            }
            if (chosen == null) {
                throw new InvalidClusterException("Service " + key(s) + ": no free address in " + SERVICE_CIDR
                        + " (expected: at most " + usable + " Services without spec.clusterIP)");
            }
            out.put(key(s), List.of(Ipv4Cidr.toInetAddress(chosen)));
        }
        return out;
    }

    static String key(Service s) {
        return s.getMetadata().getNamespace() + "/" + s.getMetadata().getName();
    }

    private static int toInt(InetAddress a) {
        byte[] b = a.getAddress();
        return ((b[0] & 0xff) << 24) | ((b[1] & 0xff) << 16) | ((b[2] & 0xff) << 8) | (b[3] & 0xff);
    }
}
