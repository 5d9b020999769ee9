package dev.tessera.agent.redirect;

import static java.util.Objects.requireNonNull;

import dev.tessera.agent.redirect.ffi.Bpf;
import dev.tessera.agent.redirect.ffi.BpfException;
import dev.tessera.agent.redirect.ffi.BpfMap;
import dev.tessera.agent.redirect.ffi.LibBpf;
import dev.tessera.agent.redirect.ffi.LinkInfo;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import jnr.ffi.Pointer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * PeerAuthentication in the kernel: loads {@code peerauth.bpf.o} (cgroup_skb/ingress, see
 * {@code ebpf-programs/src/peerauth.bpf.c}), attaches it to the cgroup v2 root with a pinned bpf_link
 * ({@code <pinDir>/peerauth/links/tsp_ingress}, re-adopted and switched atomically on restart like the
 * redirect programs) and keeps its map {@code tsp_pods} (pod IP -> node IP, mode, counters) in sync with the
 * effective mode of this node's meshed pods. {@link #close()} releases file descriptors only (STRICT stays
 * enforced while the agent is down); {@link #uninstall(Path)} detaches and removes the pins.
 */
public final class PeerAuthProgram implements AutoCloseable {

    /** The object inside the ebpf-programs jar. */
    static final String OBJECT_RESOURCE = "/ebpf/peerauth.bpf.o";
    static final String PROGRAM = "tsp_ingress";
    static final String MAP = "tsp_pods";
    /** {@code BPF_CGROUP_INET_INGRESS}. */
    static final int ATTACH_INET_INGRESS = 0;
    /** {@code sizeof(struct tsp_pod)}. */
    static final int POD_SIZE = 32;
    private static final Logger log = LoggerFactory.getLogger(PeerAuthProgram.class);

    /** Per-pod kernel counters of connection attempts. */
    public record Counters(long plaintext, long dropped, long mesh) {}

    private final BpfMap pods;
    private final byte[] nodeIp;

    private PeerAuthProgram(BpfMap pods, byte[] nodeIp) {
        this.pods = pods;
        this.nodeIp = nodeIp;
    }

    /** Loads and attaches (or re-adopts) the program for the agent of {@code nodeIp}. */
    public static PeerAuthProgram install(Path pinDir, Path cgroupDir, InetAddress nodeIp) {
        requireNonNull(nodeIp, "nodeIp");
        if (!(nodeIp instanceof Inet4Address)) {
            throw new IllegalArgumentException("nodeIp: " + nodeIp + " (expected: an IPv4 address)");
        }
        Path root = root(pinDir);
        BpfFs.ensureMounted(root);
        Path mapPin = root.resolve("maps").resolve(MAP);
        Path linkPin = root.resolve("links").resolve(PROGRAM);
        try {
            Files.createDirectories(mapPin.getParent());
            Files.createDirectories(linkPin.getParent());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create pin dir " + root + " (hint: is bpffs mounted?)", e);
        }
        Bpf bpf = Bpf.get();
        LibBpf lib = bpf.lib();
        Path object = extract();
        Pointer obj = null;
        int cgroupFd = -1;
        try {
            obj = lib.bpf_object__open_file(object.toString(), null);
            if (obj == null) {
                throw new BpfException("bpf_object__open_file(" + OBJECT_RESOURCE + ")", bpf.lastErrno());
            }
            Pointer map = lib.bpf_object__find_map_by_name(obj, MAP);
            if (map == null) {
                throw new IllegalStateException(OBJECT_RESOURCE + " has no map " + MAP);
            }
            Bpf.check(lib.bpf_map__set_pin_path(map, mapPin.toString()), "map " + MAP + ": set pin path");
            Bpf.check(lib.bpf_object__load(obj), "bpf_object__load(" + OBJECT_RESOURCE + ")");
            Pointer prog = lib.bpf_object__find_program_by_name(obj, PROGRAM);
            if (prog == null) {
                throw new IllegalStateException(OBJECT_RESOURCE + " has no program " + PROGRAM);
            }
            cgroupFd = bpf.openDirectory(cgroupDir.toString());
            attachOrAdopt(bpf, prog, cgroupFd, Cgroups.id(cgroupDir), linkPin);
            return new PeerAuthProgram(BpfMap.openPinned(MAP, mapPin.toString(), 4, POD_SIZE), nodeIp.getAddress());
        } finally {
            if (obj != null) {
                lib.bpf_object__close(obj);
            }
            bpf.close(cgroupFd);
            try {
                Files.deleteIfExists(object);
            } catch (IOException ignored) {
                // a temp file
            }
        }
    }

    private static void attachOrAdopt(Bpf bpf, Pointer prog, int cgroupFd, long cgroupId, Path linkPin) {
        LibBpf lib = bpf.lib();
        if (Files.exists(linkPin)) {
            Pointer link = lib.bpf_link__open(linkPin.toString());
            if (link == null) {
                throw new BpfException("program " + PROGRAM + ": bpf_link__open(" + linkPin + ")", bpf.lastErrno());
            }
            try {
                LinkInfo info = bpf.linkInfo(lib.bpf_link__fd(link), "link " + linkPin);
                if (info.cgroupId() == cgroupId && info.attachType() == ATTACH_INET_INGRESS) {
                    Bpf.check(lib.bpf_link__update_program(link, prog), "program " + PROGRAM + ": update " + linkPin);
                    log.info("re-adopted link {} (id {})", linkPin, info.linkId());
                    return;
                }
                Bpf.check(lib.bpf_link_detach(lib.bpf_link__fd(link)), "detach stale link " + linkPin);
            } finally {
                lib.bpf_link__destroy(link);
            }
            deleteQuietly(linkPin);
        }
        Pointer link = lib.bpf_program__attach_cgroup(prog, cgroupFd);
        if (link == null) {
            throw new BpfException("program " + PROGRAM + ": attach to cgroup fd " + cgroupFd, bpf.lastErrno());
        }
        try {
            Bpf.check(lib.bpf_link__pin(link, linkPin.toString()), "program " + PROGRAM + ": pin link at " + linkPin);
        } finally {
            lib.bpf_link__destroy(link);
        }
    }

    /**
     * Makes {@code tsp_pods} hold exactly {@code strictByPod} (pod IPv4 address -> STRICT?), keeping the
     * counters of pods already present.
     */
    public synchronized void sync(Map<InetAddress, Boolean> strictByPod) {
        Set<ByteBuffer> wanted = new HashSet<>();
        for (var e : strictByPod.entrySet()) {
            if (!(e.getKey() instanceof Inet4Address)) {
                continue;
            }
            byte[] key = e.getKey().getAddress();
            wanted.add(ByteBuffer.wrap(key));
            Counters old = pods.lookup(key).map(PeerAuthProgram::counters).orElse(new Counters(0, 0, 0));
            pods.update(key, encode(nodeIp, e.getValue(), old));
        }
        for (byte[] key : pods.keys()) {
            if (!wanted.contains(ByteBuffer.wrap(key))) {
                pods.delete(key);
            }
        }
    }

    /** The kernel counters of every pod in the map. */
    public Map<InetAddress, Counters> counters() {
        var out = new HashMap<InetAddress, Counters>();
        for (byte[] key : pods.keys()) {
            Optional<byte[]> v = pods.lookup(key);
            if (v.isPresent()) {
                try {
                    out.put(InetAddress.getByAddress(key), counters(v.get()));
                } catch (IOException e) {
                    throw new IllegalStateException(e);
                }
            }
        }
        return out;
    }

    /** struct tsp_pod: node_ip (network order), mode, plaintext, dropped, mesh (host order). */
    static byte[] encode(byte[] nodeIp, boolean strict, Counters c) {
        ByteBuffer b = ByteBuffer.allocate(POD_SIZE).order(ByteOrder.nativeOrder());
        b.put(nodeIp).putInt(strict ? 1 : 0).putLong(c.plaintext()).putLong(c.dropped()).putLong(c.mesh());
        return b.array();
    }

    static Counters counters(byte[] value) {
        ByteBuffer b = ByteBuffer.wrap(value).order(ByteOrder.nativeOrder());
        return new Counters(b.getLong(8), b.getLong(16), b.getLong(24));
    }

    /** Detaches the program and removes its pins under {@code pinDir} (no-op when absent). */
    public static void uninstall(Path pinDir) {
        Path root = root(pinDir);
        Path linkPin = root.resolve("links").resolve(PROGRAM);
        if (Files.exists(linkPin)) {
            Bpf bpf = Bpf.get();
            int fd = bpf.objGet(linkPin.toString(), "link " + PROGRAM);
            try {
                Bpf.check(bpf.lib().bpf_link_detach(fd), "detach link " + linkPin);
            } finally {
                bpf.close(fd);
            }
        }
        for (Path p : new Path[] {linkPin, root.resolve("maps").resolve(MAP), root.resolve("links"), root.resolve("maps"),
            root}) {
            deleteQuietly(p);
        }
    }

    private static Path root(Path pinDir) {
        return requireNonNull(pinDir, "pinDir").toAbsolutePath().normalize().resolve("peerauth");
    }

    private static Path extract() {
        try (InputStream in = PeerAuthProgram.class.getResourceAsStream(OBJECT_RESOURCE)) {
            if (in == null) {
                throw new IllegalStateException(OBJECT_RESOURCE + " is not on the classpath (hint: build ebpf-programs)");
            }
            Path tmp = Files.createTempFile("tessera-peerauth", ".bpf.o");
            Files.copy(in, tmp, StandardCopyOption.REPLACE_EXISTING);
            return tmp;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot extract " + OBJECT_RESOURCE, e);
        }
    }

    private static void deleteQuietly(Path p) {
        try {
            Files.deleteIfExists(p);
        } catch (IOException e) {
            log.warn("cannot remove {}: {}", p, e.toString());
        }
    }

    @Override
    public void close() {
        pods.close();
    }
}
