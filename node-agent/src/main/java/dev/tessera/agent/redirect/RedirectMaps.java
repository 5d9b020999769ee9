package dev.tessera.agent.redirect;

import static dev.tessera.agent.redirect.ffi.RedirectStructs.ADDR4_SIZE;
import static dev.tessera.agent.redirect.ffi.RedirectStructs.ADDR6_SIZE;
import static dev.tessera.agent.redirect.ffi.RedirectStructs.COOKIE_SIZE;
import static dev.tessera.agent.redirect.ffi.RedirectStructs.IP6_SIZE;
import static dev.tessera.agent.redirect.ffi.RedirectStructs.LPM_KEY4_SIZE;
import static dev.tessera.agent.redirect.ffi.RedirectStructs.LPM_KEY6_SIZE;
import static dev.tessera.agent.redirect.ffi.RedirectStructs.U32_SIZE;
import static dev.tessera.agent.redirect.ffi.RedirectStructs.U64_SIZE;

import dev.tessera.agent.redirect.ffi.Bpf;
import dev.tessera.agent.redirect.ffi.BpfMap;
import dev.tessera.agent.redirect.ffi.RedirectStructs;
import dev.tessera.api.net.Ipv4Cidr;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.function.Function;

/** The pinned maps of one install, opened by path, and the agent-written configuration in them. */
final class RedirectMaps implements AutoCloseable {

    private static final byte[] ONE = RedirectStructs.u32(1);

    final BpfMap enrolled;
    final BpfMap meshCidrs;
    final BpfMap excluded;
    final BpfMap meshDsts;
    final BpfMap config;
    final BpfMap clientDst;
    final BpfMap stats;
    final BpfMap probe;
    final BpfMap meshCidrs6;
    final BpfMap excluded6;
    final BpfMap meshDsts6;
    final BpfMap config6;
    final BpfMap clientDst6;

    private RedirectMaps(Pins pins, int cpus) {
        List<BpfMap> opened = new ArrayList<>();
        try {
            enrolled = open(opened, pins, Pins.ENROLLED, COOKIE_SIZE, U32_SIZE);
            meshCidrs = open(opened, pins, Pins.MESH_CIDRS, LPM_KEY4_SIZE, U32_SIZE);
            excluded = open(opened, pins, Pins.EXCLUDED, U32_SIZE, U32_SIZE);
            meshDsts = open(opened, pins, Pins.MESH_DSTS, U32_SIZE, U32_SIZE);
            config = open(opened, pins, Pins.CONFIG, U32_SIZE, ADDR4_SIZE);
            clientDst = open(opened, pins, Pins.CLIENT_DST, ADDR4_SIZE, ADDR4_SIZE);
            stats = open(opened, pins, Pins.STATS, U32_SIZE, U64_SIZE * cpus);
            probe = open(opened, pins, Pins.PROBE, U32_SIZE, RedirectStructs.PROBE_SIZE);
            meshCidrs6 = open(opened, pins, Pins.MESH_CIDRS6, LPM_KEY6_SIZE, U32_SIZE);
            excluded6 = open(opened, pins, Pins.EXCLUDED6, IP6_SIZE, U32_SIZE);
            meshDsts6 = open(opened, pins, Pins.MESH_DSTS6, IP6_SIZE, U32_SIZE);
            config6 = open(opened, pins, Pins.CONFIG6, U32_SIZE, ADDR6_SIZE);
            clientDst6 = open(opened, pins, Pins.CLIENT_DST6, ADDR6_SIZE, ADDR6_SIZE);
        } catch (RuntimeException e) {
            opened.forEach(BpfMap::close);
            throw e;
        }
    }

    static RedirectMaps open(Pins pins) {
        return new RedirectMaps(pins, Bpf.get().possibleCpus());
    }

    private static BpfMap open(List<BpfMap> opened, Pins pins, String name, int keySize, int valueSize) {
        BpfMap map = BpfMap.openPinned(name, pins.map(name).toString(), keySize, valueSize);
        opened.add(map);
        return map;
    }

    /**
     * Writes the redirect targets, the mesh CIDRs and the excluded addresses of both families (replacing older
     * ones). Without an IPv6 listener {@code tsr_config6} is all zeros: connects to IPv6 mesh destinations are
     * then refused (none are captured when there is no IPv6 mesh CIDR either).
     */
    void configure(RedirectSettings settings) {
        config.update(RedirectStructs.u32(0), RedirectStructs.addr4(settings.agentIp(), settings.port()));
        List<byte[]> cidrKeys = new ArrayList<>();
        settings.parsedMeshCidrs().forEach(c -> cidrKeys.add(RedirectStructs.lpmKey4(Ipv4Cidr.toInetAddress(c.network()), c.prefix())));
        replaceSet(meshCidrs, cidrKeys);
        List<byte[]> ips = new ArrayList<>();
        List<byte[]> ips6 = new ArrayList<>();
        for (InetAddress a : settings.excludedAddresses()) {
            if (a instanceof Inet6Address) {
                ips6.add(RedirectStructs.ipv6Bytes(a));
            } else {
                ips.add(RedirectStructs.ipv4Bytes(a));
            }
        }
        replaceSet(excluded, ips);
        // IPv6: the CIDRs and exclusions before the target, so a newly configured listener never captures more
        // than the settings say; an install without an IPv6 listener writes zeros (refuse, fail closed).
        List<byte[]> cidrKeys6 = new ArrayList<>();
        settings.parsedMeshCidrs6().forEach(c -> cidrKeys6.add(RedirectStructs.lpmKey6(c.network(), c.prefix())));
        replaceSet(excluded6, ips6);
        replaceSet(meshCidrs6, cidrKeys6);
        config6.update(RedirectStructs.u32(0), settings.agentIp6() == null ? new byte[RedirectStructs.ADDR6_SIZE]
                : RedirectStructs.addr6(settings.agentIp6(), settings.port()));
    }

    /** Adds the wanted keys first, then removes the others, so no wanted key is ever missing. */
    private static void replaceSet(BpfMap map, List<byte[]> wanted) {
        Function<byte[], String> id = java.util.HexFormat.of()::formatHex;
        Set<String> keep = new HashSet<>();
        for (byte[] key : wanted) {
            map.update(key, ONE);
            keep.add(id.apply(key));
        }
        for (byte[] key : map.keys()) {
            if (!keep.contains(id.apply(key))) {
                map.delete(key);
            }
        }
    }

    /** Sum over the CPUs of one {@code enum tsr_stat} counter. */
    long counter(int stat) {
        return stats.lookup(RedirectStructs.u32(stat)).map(RedirectStructs::sumPerCpu).orElse(0L);
    }

    @Override
    public void close() {
        for (BpfMap m : List.of(enrolled, meshCidrs, excluded, meshDsts, config, clientDst, stats, probe, meshCidrs6,
                excluded6, meshDsts6, config6, clientDst6)) {
            m.close();
        }
    }
}
