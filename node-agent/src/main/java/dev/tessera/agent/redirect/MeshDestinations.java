package dev.tessera.agent.redirect;

import static java.util.Objects.requireNonNull;

import dev.tessera.agent.redirect.ffi.BpfException;
import dev.tessera.agent.redirect.ffi.BpfMap;
import dev.tessera.agent.redirect.ffi.RedirectStructs;
import dev.tessera.api.model.MeshSnapshot;
import dev.tessera.api.model.Service;
import dev.tessera.api.model.Workload;
import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.nio.ByteBuffer;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The kernel's {@code tsr_mesh_dsts} and {@code tsr_mesh_dsts6}: the destinations a meshed pod's connection is
 * captured for, i.e. every meshed workload's addresses and every Service VIP, each in the map of its family.
 * Anything else (a non-meshed pod, a node, the controller, a host outside the cluster) is left to the pod's own
 * network namespace, so it leaves with the pod's address and meets the same egress rules as an opted-out pod's
 * connection; see {@code tessera_redirect.h}.
 *
 * <p>Key 0 of {@code tsr_mesh_dsts} marks BOTH sets complete; it is written after both sets, and until it is
 * written (first sync) and whenever a complete set cannot be written (more destinations of a family than its
 * map holds), the programs fall back to the mesh CIDRs alone for both families, the capture scope of older
 * agents: traffic is still meshed, only passthrough is dialled from the node. Updates add before they remove,
 * so a destination that stays meshed is never missing in between.
 */
public final class MeshDestinations {

    private static final Logger log = LoggerFactory.getLogger(MeshDestinations.class);
    private static final int COMPLETE = 0;
    private static final byte[] ONE = RedirectStructs.u32(1);

    /** The kernel maps' {@code max_entries} (each family; key 0 of the IPv4 map included). */
    static final int CAPACITY = 262_144;

    /**
     * A native IPv6 address as two longs (network order), a set element cheaper than a byte array.
     *
     * @param high the upper 64 bits
     * @param low the lower 64 bits
     */
    public record Ip6(long high, long low) {
        static Ip6 of(byte[] sixteen) {
            ByteBuffer b = ByteBuffer.wrap(sixteen);
            return new Ip6(b.getLong(), b.getLong());
        }

        byte[] bytes() {
            return ByteBuffer.allocate(16).putLong(high).putLong(low).array();
        }
    }

    /**
     * What a snapshot makes capturable, by family.
     *
     * @param ipv4 IPv4 addresses in network order packed in an int (0.0.0.0 never: key 0 is the marker)
     * @param ipv6 native IPv6 addresses
     */
    public record Wanted(Set<Integer> ipv4, Set<Ip6> ipv6) {
        public Wanted {
            ipv4 = Set.copyOf(ipv4);
            ipv6 = Set.copyOf(ipv6);
        }

        public int size() {
            return ipv4.size() + ipv6.size();
        }
    }

    private final BpfMap map;
    private final BpfMap map6;
    private final int capacity;
    /** What the IPv4 map holds (besides key 0), as IPv4 addresses in network order packed in an int. */
    private final Set<Integer> written = new HashSet<>();
    private final Set<Ip6> written6 = new HashSet<>();
    private boolean complete;

    MeshDestinations(BpfMap map, BpfMap map6, int capacity) {
        this.map = requireNonNull(map, "map");
        this.map6 = requireNonNull(map6, "map6");
        this.capacity = capacity;
        for (byte[] key : map.keys()) { // re-adopted: what the previous agent wrote
            int k = ByteBuffer.wrap(key).getInt();
            if (k == COMPLETE) {
                complete = true;
            } else {
                written.add(k);
            }
        }
        for (byte[] key : map6.keys()) {
            written6.add(Ip6.of(key));
        }
    }

    /** The destinations a snapshot makes capturable: meshed workloads' addresses and Service VIPs, by family. */
    public static Wanted of(MeshSnapshot snapshot) {
        Set<Integer> out = new HashSet<>();
        Set<Ip6> out6 = new HashSet<>();
        for (Workload w : snapshot.workloads()) {
            if (w.meshed()) {
                addressesOf(w).forEach(a -> add(out, out6, a));
            }
        }
        for (Service s : snapshot.services()) {
            s.vips().forEach(v -> add(out, out6, v));
        }
        return new Wanted(out, out6);
    }

    /** Every address of a workload (a dual-stack pod has one per family): the one place capture reads them. */
    static List<InetAddress> addressesOf(Workload w) {
        return w.addresses();
    }

    private static void add(Set<Integer> out, Set<Ip6> out6, InetAddress ip) {
        if (ip instanceof Inet4Address) {
            int k = ByteBuffer.wrap(ip.getAddress()).getInt();
            if (k != COMPLETE) {
                out.add(k);
            }
        } else if (ip instanceof Inet6Address) {
            out6.add(Ip6.of(ip.getAddress()));
        }
    }

    /** Makes the kernel sets equal to {@code wanted}; returns whether they are complete (authoritative). */
    public synchronized boolean sync(Wanted wanted) {
        if (wanted.ipv4().size() >= capacity || wanted.ipv6().size() > capacity) {
            if (complete || !written.isEmpty() || !written6.isEmpty()) {
                log.warn("{} IPv4 and {} IPv6 meshed destinations do not fit tsr_mesh_dsts ({} entries) and"
                        + " tsr_mesh_dsts6 ({}): capturing by mesh CIDR alone (passthrough is dialled from the node)",
                        wanted.ipv4().size(), wanted.ipv6().size(), capacity - 1, capacity);
            }
            clear();
            return false;
        }
        try {
            for (int k : wanted.ipv4()) {
                if (!written.contains(k)) {
                    map.update(key(k), ONE);
                    written.add(k);
                }
            }
            for (Ip6 k : wanted.ipv6()) {
                if (!written6.contains(k)) {
                    map6.update(k.bytes(), ONE);
                    written6.add(k);
                }
            }
            for (var it = written.iterator(); it.hasNext();) {
                int k = it.next();
                if (!wanted.ipv4().contains(k)) {
                    map.delete(key(k));
                    it.remove();
                }
            }
            for (var it = written6.iterator(); it.hasNext();) {
                Ip6 k = it.next();
                if (!wanted.ipv6().contains(k)) {
                    map6.delete(k.bytes());
                    it.remove();
                }
            }
            if (!complete) {
                map.update(key(COMPLETE), ONE);
                complete = true;
                log.info("capturing {} IPv4 and {} IPv6 meshed destinations (workloads and Service VIPs) only",
                        written.size(), written6.size());
            }
            return true;
        } catch (BpfException e) {
            log.warn("cannot write tsr_mesh_dsts/tsr_mesh_dsts6 ({}): capturing by mesh CIDR alone", e.getMessage());
            clear();
            return false;
        }
    }

    /** Whether the kernel sets are authoritative. */
    public synchronized boolean complete() {
        return complete;
    }

    /** Entries of the IPv4 set besides key 0. */
    public synchronized int size() {
        return written.size();
    }

    /** Entries of the IPv6 set. */
    public synchronized int size6() {
        return written6.size();
    }

    /** Falls back to the CIDRs first (key 0 gone, for both families), then empties both sets. */
    private void clear() {
        try {
            map.delete(key(COMPLETE));
            complete = false;
            for (int k : written) {
                map.delete(key(k));
            }
            written.clear();
            for (Ip6 k : written6) {
                map6.delete(k.bytes());
            }
            written6.clear();
        } catch (BpfException e) {
            log.warn("cannot clear tsr_mesh_dsts/tsr_mesh_dsts6: {}", e.getMessage());
        }
    }

    private static byte[] key(int k) {
        return ByteBuffer.allocate(4).putInt(k).array();
    }
}
