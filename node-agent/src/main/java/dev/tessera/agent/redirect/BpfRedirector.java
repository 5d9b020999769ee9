package dev.tessera.agent.redirect;

import static java.util.Objects.requireNonNull;

import dev.tessera.agent.redirect.ffi.Bpf;
import dev.tessera.agent.redirect.ffi.LinkInfo;
import dev.tessera.agent.redirect.ffi.RedirectStructs;
import dev.tessera.api.model.MeshSnapshot;
import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.LongAdder;

/**
 * The eBPF capture (see {@code ebpf-programs/README.md}): cgroup connect4/connect6 send enrolled pods'
 * TCP connects to the agent (IPv4 and IPv4-mapped ones to its IPv4 listener, native IPv6 ones to its IPv6
 * listener), sockops records their original destinations by client address, and getpeername4/6 keep the
 * application's view. Programs, links and maps are pinned under
 * {@link RedirectSettings#pinDir()}; {@link #close()} only releases this process's file descriptors, so
 * capture outlives the agent (fail closed), and {@link #install} re-adopts an existing install.
 */
public final class BpfRedirector implements Redirector {

    /** Occupancy reads stop counting here (bounded time per scrape). */
    private static final int OCCUPANCY_LIMIT = 1 << 20;

    private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(BpfRedirector.class);

    private final RedirectSettings settings;
    private final RedirectMaps maps;
    private final LongAdder lookups = new LongAdder();
    private final LongAdder misses = new LongAdder();
    private final AtomicBoolean closed = new AtomicBoolean();
    private final MeshDestinations destinations;

    private BpfRedirector(RedirectSettings settings, RedirectMaps maps) {
        this.settings = settings;
        this.maps = maps;
        this.destinations = new MeshDestinations(maps.meshDsts, maps.meshDsts6, MeshDestinations.CAPACITY);
    }

    /**
     * Installs the capture, or re-adopts the one pinned under {@code settings.pinDir()} (no second
     * attach; the pinned links switch atomically to the programs of this build; the configuration maps
     * are rewritten from {@code settings}; enrolled pods stay enrolled). Mounts bpffs at /sys/fs/bpf if
     * needed.
     *
     * @throws dev.tessera.agent.redirect.ffi.BpfException when the kernel refuses (message names the
     *     program, map or pin, the errno and a hint)
     */
    public static BpfRedirector install(RedirectSettings settings) {
        requireNonNull(settings, "settings");
        return new BpfRedirector(settings, BpfLoader.install(settings));
    }

    /** True when every link of an install is pinned under {@code pinDir}. */
    public static boolean isInstalled(Path pinDir) {
        Pins pins = new Pins(pinDir);
        for (Hook hook : Hook.values()) {
            if (!Files.exists(pins.link(hook))) {
                return false;
            }
        }
        return true;
    }

    /** Detaches and removes an install pinned under {@code pinDir} without opening it first. */
    public static void uninstall(Path pinDir) {
        BpfLoader.uninstall(requireNonNull(pinDir, "pinDir"));
    }

    public RedirectSettings settings() {
        return settings;
    }

    @Override
    public void enroll(long netnsCookie) {
        maps.enrolled.update(RedirectStructs.cookie(netnsCookie), RedirectStructs.u32(1));
    }

    @Override
    public void unenroll(long netnsCookie) {
        maps.enrolled.delete(RedirectStructs.cookie(netnsCookie));
    }

    /**
     * Captures only the meshed destinations of {@code snapshot} (meshed workloads' addresses and Service VIPs,
     * IPv4 and IPv6) from now on; run it before pods are enrolled from the same snapshot. Returns whether the
     * kernel sets are complete (otherwise the mesh CIDRs alone decide, see {@link MeshDestinations}).
     */
    public boolean syncDestinations(dev.tessera.api.model.MeshSnapshot snapshot) {
        String gap = captureGap(snapshot, settings.parsedMeshCidrs(), settings.parsedMeshCidrs6());
        if (gap != null && !gap.equals(captureGap)) {
            log.warn("{}", gap);
        }
        captureGap = gap;
        return destinations.sync(MeshDestinations.of(snapshot));
    }

    private volatile String captureGap;

    /**
     * Why meshed workloads would not be captured: their addresses lie outside {@code --mesh-cidr} (set to
     * ranges that miss the cluster's pods), or {@code null} when every meshed workload is inside.
     */
    public java.util.Optional<String> captureGap() {
        return java.util.Optional.ofNullable(captureGap);
    }

    /**
     * Like the other {@code captureGap}; an IPv6 address counts only once IPv6 capture is asked for (an IPv6
     * {@code --mesh-cidr}): without one, no native IPv6 traffic is captured by design, as before IPv6 capture.
     */
    static String captureGap(dev.tessera.api.model.MeshSnapshot snapshot, List<dev.tessera.api.net.Ipv4Cidr> cidrs,
            List<dev.tessera.api.net.Ipv6Cidr> cidrs6) {
        int outside = 0;
        String example = null;
        for (var w : snapshot.workloads()) {
            if (!w.meshed()) {
                continue;
            }
            for (InetAddress a : MeshDestinations.addressesOf(w)) {
                boolean inside;
                if (a instanceof Inet4Address) {
                    int ip = java.nio.ByteBuffer.wrap(a.getAddress()).getInt();
                    inside = cidrs.stream().anyMatch(c -> c.contains(ip));
                } else {
                    inside = cidrs6.isEmpty() || cidrs6.stream().anyMatch(c -> c.contains(a));
                }
                if (!inside) {
                    outside++;
                    if (example == null) {
                        example = w.key() + " at " + a.getHostAddress();
                    }
                    break; // a workload counts once
                }
            }
        }
        List<String> all = new ArrayList<>();
        cidrs.forEach(c -> all.add(c.toString()));
        cidrs6.forEach(c -> all.add(c.toString()));
        return outside == 0 ? null : outside + " meshed workload(s) outside --mesh-cidr " + all
                + " (e.g. " + example + "): their traffic is not captured"
                + " (expected: --mesh-cidr set to the cluster's pod and service CIDRs)";
    }

    /** {@link #captureGap(MeshSnapshot, List, List)} without IPv6 CIDRs. */
    static String captureGap(dev.tessera.api.model.MeshSnapshot snapshot, List<dev.tessera.api.net.Ipv4Cidr> cidrs) {
        return captureGap(snapshot, cidrs, List.of());
    }

    /** The kernel's set of captured destinations. */
    public MeshDestinations destinations() {
        return destinations;
    }

    @Override
    public Set<Long> enrolled() {
        Set<Long> out = new HashSet<>();
        for (byte[] key : maps.enrolled.keys()) {
            out.add(RedirectStructs.decodeCookie(key));
        }
        return out;
    }

    @Override
    public Optional<InetSocketAddress> take(InetSocketAddress client) {
        requireNonNull(client, "client");
        lookups.increment();
        InetAddress ip = client.getAddress();
        Optional<InetSocketAddress> dst = Optional.empty();
        if (ip instanceof Inet4Address || isV4Mapped(ip)) {
            dst = maps.clientDst.lookupAndDelete(RedirectStructs.addr4(ip, client.getPort()))
                    .map(RedirectStructs::decodeAddr4);
        } else if (ip instanceof Inet6Address) { // a native IPv6 client (connect6 to an IPv6 mesh destination)
            dst = maps.clientDst6.lookupAndDelete(RedirectStructs.addr6(ip, client.getPort()))
                    .map(RedirectStructs::decodeAddr6);
        }
        if (dst.isEmpty()) {
            misses.increment();
        }
        return dst;
    }

    /**
     * Redirected and recorded come from the kernel (since install, surviving agent restarts); lookups
     * and misses count this instance's {@link #take} calls.
     */
    @Override
    public RedirectStats stats() {
        return new RedirectStats(maps.counter(RedirectStructs.STAT_REDIRECTED),
                maps.counter(RedirectStructs.STAT_RECORDED), lookups.sum(), misses.sum());
    }

    /**
     * Marks TCP connects of the cgroup with id {@code cgroupId} (the kubelet's) to the mesh CIDRs with
     * {@code mark}, in the kernel; 0 marks nothing. The count of marked connects is kept.
     */
    public synchronized void markProbes(long cgroupId, int mark) {
        byte[] key = RedirectStructs.u32(0);
        long marked = maps.probe.lookup(key).map(RedirectStructs::probeMarked).orElse(0L);
        maps.probe.update(key, RedirectStructs.probe(cgroupId, marked, mark));
    }

    /** The cgroup id whose connects are marked as probes (0: none). */
    public long probeCgroupId() {
        return maps.probe.lookup(RedirectStructs.u32(0)).map(RedirectStructs::probeCgroupId).orElse(0L);
    }

    /** Every kernel counter ({@code enum tsr_stat}) by name, e.g. for metrics. */
    public Map<String, Long> kernelCounters() {
        Map<String, Long> out = new LinkedHashMap<>();
        out.put("redirected", maps.counter(RedirectStructs.STAT_REDIRECTED));
        out.put("recorded", maps.counter(RedirectStructs.STAT_RECORDED));
        out.put("store_failed", maps.counter(RedirectStructs.STAT_STORE_FAILED));
        out.put("record_failed", maps.counter(RedirectStructs.STAT_RECORD_FAILED));
        out.put("no_config", maps.counter(RedirectStructs.STAT_NO_CONFIG));
        out.put("peername", maps.counter(RedirectStructs.STAT_PEERNAME));
        out.put("probe_marked", maps.probe.lookup(RedirectStructs.u32(0)).map(RedirectStructs::probeMarked)
                .orElse(0L));
        // Of redirected and recorded above: native IPv6 connects (the probe mark counts both families).
        out.put("redirected_ipv6", maps.counter(RedirectStructs.STAT_REDIRECTED6));
        out.put("recorded_ipv6", maps.counter(RedirectStructs.STAT_RECORDED6));
        return out;
    }

    /**
     * Entries in the maps that grow with traffic or pods, read from the kernel by iterating their keys:
     * {@code enrolled} (captured pod namespaces), {@code client_dst} and {@code client_dst6} (original
     * destinations recorded and not yet looked up; they should stay near zero), {@code mesh_dsts} and
     * {@code mesh_dsts6} (captured destinations, IPv4 and IPv6).
     */
    public Map<String, Integer> occupancy() {
        Map<String, Integer> out = new LinkedHashMap<>();
        out.put("enrolled", maps.enrolled.count(OCCUPANCY_LIMIT));
        out.put("client_dst", maps.clientDst.count(OCCUPANCY_LIMIT));
        out.put("mesh_dsts", destinations.size());
        out.put("client_dst6", maps.clientDst6.count(OCCUPANCY_LIMIT));
        out.put("mesh_dsts6", destinations.size6());
        return out;
    }

    /**
     * One pinned link as the kernel reports it.
     *
     * @param program the program name, e.g. {@code tsr_connect4}
     * @param link the link's id, program id, cgroup id and attach type
     * @param effective whether the cgroup's attach list for that hook contains the program right now
     */
    public record Attachment(String program, LinkInfo link, boolean effective) {}

    /** The pinned links and whether each one's program is attached to the cgroup (proof of capture). */
    public List<Attachment> attachments() {
        Bpf bpf = Bpf.get();
        Pins pins = new Pins(settings.pinDir());
        List<Attachment> out = new ArrayList<>();
        int cgroupFd = bpf.openDirectory(settings.cgroupDir().toString());
        try {
            for (Hook hook : Hook.values()) {
                int fd = bpf.objGet(pins.link(hook).toString(), "link " + hook.program);
                try {
                    LinkInfo info = bpf.linkInfo(fd, "link " + hook.program);
                    boolean effective = bpf.attachedPrograms(cgroupFd, hook.attachType).contains(info.programId());
                    out.add(new Attachment(hook.program, info, effective));
                } finally {
                    bpf.close(fd);
                }
            }
        } finally {
            bpf.close(cgroupFd);
        }
        return out;
    }

    @Override
    public void uninstall() {
        close();
        BpfLoader.uninstall(settings.pinDir());
    }

    /** Releases the map file descriptors; programs, links and maps stay pinned (capture continues). */
    @Override
    public void close() {
        if (closed.compareAndSet(false, true)) {
            maps.close();
        }
    }

    private static boolean isV4Mapped(InetAddress ip) {
        byte[] b = ip.getAddress();
        if (b.length != 16 || b[10] != (byte) 0xff || b[11] != (byte) 0xff) {
            return false;
        }
        for (int i = 0; i < 10; i++) {
            if (b[i] != 0) {
                return false;
            }
        }
        return true;
    }
}
