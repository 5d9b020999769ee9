package dev.tessera.agent.redirect;

import static dev.tessera.agent.redirect.ffi.RedirectStructs.ADDR4_SIZE;
import static dev.tessera.agent.redirect.ffi.RedirectStructs.COOKIE_SIZE;
import static dev.tessera.agent.redirect.ffi.RedirectStructs.LPM_KEY4_SIZE;
import static dev.tessera.agent.redirect.ffi.RedirectStructs.U32_SIZE;
import static dev.tessera.agent.redirect.ffi.RedirectStructs.U64_SIZE;

import dev.tessera.agent.redirect.ffi.Bpf;
import dev.tessera.agent.redirect.ffi.BpfMap;
import dev.tessera.agent.redirect.ffi.RedirectStructs;
import dev.tessera.api.net.Ipv4Cidr;
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

    /** Writes the redirect target, the mesh CIDRs and the excluded addresses (replacing older ones). */
    void configure(RedirectSettings settings) {
        config.update(RedirectStructs.u32(0), RedirectStructs.addr4(settings.agentIp(), settings.port()));
        List<byte[]> cidrKeys = new ArrayList<>();
        settings.parsedMeshCidrs().forEach(c -> cidrKeys.add(RedirectStructs.lpmKey4(Ipv4Cidr.toInetAddress(c.network()), c.prefix())));
        replaceSet(meshCidrs, cidrKeys);
        List<byte[]> ips = new ArrayList<>();
        for (InetAddress a : settings.excludedAddresses()) {
            ips.add(RedirectStructs.ipv4Bytes(a));
        }
        replaceSet(excluded, ips);
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
        for (BpfMap m : List.of(enrolled, meshCidrs, excluded, meshDsts, config, clientDst, stats, probe)) {
            m.close();
        }
    }
}
