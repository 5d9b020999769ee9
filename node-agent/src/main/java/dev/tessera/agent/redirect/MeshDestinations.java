package dev.tessera.agent.redirect;

import static java.util.Objects.requireNonNull;

import dev.tessera.agent.redirect.ffi.BpfException;
import dev.tessera.agent.redirect.ffi.BpfMap;
import dev.tessera.agent.redirect.ffi.RedirectStructs;
import dev.tessera.api.model.MeshSnapshot;
import dev.tessera.api.model.Service;
import dev.tessera.api.model.Workload;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.nio.ByteBuffer;
import java.util.HashSet;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The kernel's {@code tsr_mesh_dsts}: the destinations a meshed pod's connection is captured for, i.e.
 * every meshed workload's address and every Service VIP. Anything else (a non-meshed pod, a node, the
 * controller, a host outside the cluster) is left to the pod's own network namespace, so it leaves with
 * the pod's address and meets the same egress rules as an opted-out pod's connection; see
 * {@code tessera_redirect.h}.
 *
 * <p>Key 0 marks the set complete; until it is written (first sync) and whenever a complete set cannot be
 * written (more destinations than the map holds), the programs fall back to the mesh CIDRs alone, the
 * capture scope of older agents: traffic is still meshed, only passthrough is dialled from the node.
 * Updates add before they remove, so a destination that stays meshed is never missing in between.
 */
public final class MeshDestinations {

    private static final Logger log = LoggerFactory.getLogger(MeshDestinations.class);
    private static final int COMPLETE = 0;
    private static final byte[] ONE = RedirectStructs.u32(1);

    /** The kernel map's {@code max_entries}, key 0 included. */
    static final int CAPACITY = 262_144;

    private final BpfMap map;
    private final int capacity;
    /** What the map holds (besides key 0), as IPv4 addresses in network order packed in an int. */
    private final Set<Integer> written = new HashSet<>();
    private boolean complete;

    MeshDestinations(BpfMap map, int capacity) {
        this.map = requireNonNull(map, "map");
        this.capacity = capacity;
        for (byte[] key : map.keys()) { // re-adopted: what the previous agent wrote
            int k = ByteBuffer.wrap(key).getInt();
            if (k == COMPLETE) {
                complete = true;
            } else {
                written.add(k);
            }
        }
    }

    /** The IPv4 destinations a snapshot makes capturable: meshed workloads and Service VIPs. */
    public static Set<Integer> of(MeshSnapshot snapshot) {
        Set<Integer> out = new HashSet<>();
        for (Workload w : snapshot.workloads()) {
            if (w.meshed()) {
                add(out, w.ip());
            }
        }
        for (Service s : snapshot.services()) {
            s.vips().forEach(v -> add(out, v));
        }
        return out;
    }

    private static void add(Set<Integer> out, InetAddress ip) {
        if (ip instanceof Inet4Address) {
            int k = ByteBuffer.wrap(ip.getAddress()).getInt();
            if (k != COMPLETE) {
                out.add(k);
            }
        }
    }

    /** Makes the kernel set equal to {@code wanted}; returns whether it is complete (authoritative). */
    public synchronized boolean sync(Set<Integer> wanted) {
        if (wanted.size() >= capacity) {
            if (complete || !written.isEmpty()) {
                log.warn("{} meshed destinations do not fit tsr_mesh_dsts ({} entries): capturing by mesh CIDR"
                        + " alone (passthrough is dialled from the node)", wanted.size(), capacity - 1);
            }
            clear();
            return false;
        }
        try {
            for (int k : wanted) {
                if (!written.contains(k)) {
                    map.update(key(k), ONE);
                    written.add(k);
                }
            }
            for (var it = written.iterator(); it.hasNext();) {
                int k = it.next();
                if (!wanted.contains(k)) {
                    map.delete(key(k));
                    it.remove();
                }
            }
            if (!complete) {
                map.update(key(COMPLETE), ONE);
                complete = true;
                log.info("capturing {} meshed destinations (workloads and Service VIPs) only", written.size());
            }
            return true;
        } catch (BpfException e) {
            log.warn("cannot write tsr_mesh_dsts ({}): capturing by mesh CIDR alone", e.getMessage());
            clear();
            return false;
        }
    }

    /** Whether the kernel set is authoritative. */
    public synchronized boolean complete() {
        return complete;
    }

    /** Entries besides key 0. */
    public synchronized int size() {
        return written.size();
    }

    /** Falls back to the CIDRs first (key 0 gone), then empties the set. */
    private void clear() {
        try {
            map.delete(key(COMPLETE));
            complete = false;
            for (int k : written) {
                map.delete(key(k));
            }
            written.clear();
        } catch (BpfException e) {
            log.warn("cannot clear tsr_mesh_dsts: {}", e.getMessage());
        }
    }

    private static byte[] key(int k) {
        return ByteBuffer.allocate(4).putInt(k).array();
    }
}
