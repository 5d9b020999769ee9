package dev.tessera.cli.observe;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * {@code tessera check --pre}: can this machine run a node agent? Kernel version, BTF, cgroup v2, bpffs,
 * the process's capabilities, the BPF JIT, and — through {@code bpftool feature probe} — the program types
 * and helpers the redirect programs use.
 */
public final class Preflight {

    private static final String K = "kernel";
    private static final String P = "privileges";
    private static final String B = "eBPF features";

    private final Path root;

    /** Checks the running machine. */
    public Preflight() {
        this(Path.of("/"));
    }

    /** Checks the files under {@code root} (tests pass a fake /proc and /sys tree). */
    Preflight(Path root) {
        this.root = root;
    }

    private Path p(String absolute) {
        return root.resolve(absolute.substring(1));
    }

    /** Every pre-installation check. */
    public List<Check> run() {
        List<Check> out = new ArrayList<>();
        out.add(kernelVersion(System.getProperty("os.version")));
        out.add(Files.isReadable(p("/sys/kernel/btf/vmlinux"))
                ? Check.ok(K, "BTF", "/sys/kernel/btf/vmlinux present")
                : Check.warn(K, "BTF", "/sys/kernel/btf/vmlinux missing",
                        "build the kernel with CONFIG_DEBUG_INFO_BTF=y (needed for CO-RE and bpftool introspection)"));
        String mounts = read("/proc/mounts");
        out.add(mounts.lines().anyMatch(l -> l.split(" ").length > 2 && l.split(" ")[2].equals("cgroup2"))
                ? Check.ok(K, "cgroup v2", "mounted at " + mountPoint(mounts, "cgroup2"))
                : Check.fail(K, "cgroup v2", "no cgroup2 mount in /proc/mounts",
                        "mount it: mount -t cgroup2 none /sys/fs/cgroup/unified (the programs attach to a cgroup v2)"));
        out.add(mounts.lines().anyMatch(l -> l.split(" ").length > 2 && l.split(" ")[2].equals("bpf"))
                ? Check.ok(K, "bpffs", "mounted at " + mountPoint(mounts, "bpf"))
                : Check.warn(K, "bpffs", "not mounted",
                        "the agent mounts it at /sys/fs/bpf; in a container mount the host's /sys/fs/bpf so pins survive restarts"));
        String jit = read("/proc/sys/net/core/bpf_jit_enable").strip();
        out.add("1".equals(jit) || "2".equals(jit)
                ? Check.ok(K, "BPF JIT", "enabled")
                : Check.warn(K, "BPF JIT", jit.isEmpty() ? "unknown" : "bpf_jit_enable=" + jit,
                        "sysctl net.core.bpf_jit_enable=1 (interpreted programs are slower)"));
        out.addAll(capabilities(read("/proc/self/status")));
        out.addAll(features());
        return out;
    }

    /** This machine's kernel release against {@link KernelRequirements#MIN_KERNEL}. */
    public static Check kernelVersion(String release) {
        Matcher m = Pattern.compile("^(\\d+)\\.(\\d+)").matcher(release == null ? "" : release);
        String min = KernelRequirements.minimum();
        if (!m.find()) {
            return Check.fail(K, "kernel version", "cannot parse '" + release + "'", "expected: Linux >= " + min);
        }
        int major = Integer.parseInt(m.group(1));
        int minor = Integer.parseInt(m.group(2));
        int[] need = KernelRequirements.MIN_KERNEL;
        boolean ok = major > need[0] || major == need[0] && minor >= need[1];
        return ok ? Check.ok(K, "kernel version", release + " (>= " + min + ", docs/compatibility.md)")
                : Check.fail(K, "kernel version", release + " (expected: >= " + min + ", docs/compatibility.md)",
                        "Linux >= " + min + " is needed (" + KernelRequirements.newest() + "): upgrade the kernel");
    }

    /** CAP_NET_ADMIN, CAP_SYS_ADMIN (setns, cgroup attach) and CAP_BPF (or SYS_ADMIN on old kernels). */
    static List<Check> capabilities(String status) {
        long eff = status.lines().filter(l -> l.startsWith("CapEff:")).findFirst()
                .map(l -> Long.parseUnsignedLong(l.substring(7).strip(), 16)).orElse(0L);
        List<Check> out = new ArrayList<>();
        out.add(cap(eff, 12, "CAP_NET_ADMIN", "attach cgroup programs, configure sockets"));
        out.add(cap(eff, 21, "CAP_SYS_ADMIN", "enter pod network namespaces (setns), pin BPF objects"));
        boolean bpf = (eff & (1L << 39)) != 0 || (eff & (1L << 21)) != 0;
        out.add(bpf ? Check.ok(P, "CAP_BPF", "held" + ((eff & (1L << 39)) == 0 ? " (through CAP_SYS_ADMIN)" : ""))
                : Check.fail(P, "CAP_BPF", "missing", "run the agent with CAP_BPF (or privileged)"));
        return out;
    }

    private static Check cap(long eff, int bit, String name, String why) {
        return (eff & (1L << bit)) != 0 ? Check.ok(P, name, "held")
                : Check.fail(P, name, "missing", "the agent needs it to " + why + "; run it privileged or add the capability");
    }

    private List<Check> features() {
        JsonNode probe;
        try {
            Process p = new ProcessBuilder("bpftool", "feature", "probe", "kernel", "-j")
                    .redirectError(ProcessBuilder.Redirect.DISCARD).start();
            byte[] out = p.getInputStream().readAllBytes();
            if (!p.waitFor(30, TimeUnit.SECONDS) || p.exitValue() != 0) {
                return List.of(Check.warn(B, "program types and helpers", "bpftool feature probe failed",
                        "run as root with bpftool installed to probe the kernel"));
            }
            probe = new ObjectMapper().readTree(new String(out, StandardCharsets.UTF_8));
        } catch (IOException e) {
            return List.of(Check.warn(B, "program types and helpers", "bpftool not found",
                    "install bpftool to probe the kernel's program types and helpers"));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return List.of();
        }
        return features(probe);
    }

    /** Checks a {@code bpftool feature probe -j} document. */
    static List<Check> features(JsonNode probe) {
        List<Check> out = new ArrayList<>();
        for (String[] t : new String[][] {{"cgroup_sock_addr", "connect4/6, getpeername4/6"}, {"sock_ops", "sockops"},
            {"cgroup_skb", "plaintext policy"}}) {
            boolean have = probe.path("program_types").path("have_" + t[0] + "_prog_type").asBoolean(false);
            out.add(have ? Check.ok(B, "program type " + t[0], "available (" + t[1] + ")")
                    : Check.fail(B, "program type " + t[0], "missing", "the kernel needs CONFIG_CGROUP_BPF=y"));
        }
        String[][] helpers = {
            {"cgroup_sock_addr", "bpf_get_netns_cookie"}, {"cgroup_sock_addr", "bpf_sk_storage_get"},
            {"cgroup_sock_addr", "bpf_get_current_cgroup_id"}, {"cgroup_sock_addr", "bpf_setsockopt"},
            {"sock_ops", "bpf_get_netns_cookie"}, {"sock_ops", "bpf_sk_storage_get"},
        };
        for (String[] h : helpers) {
            boolean have = false;
            for (JsonNode n : probe.path("helpers").path(h[0] + "_available_helpers")) {
                have |= n.asText().equals(h[1]);
            }
            out.add(have ? Check.ok(B, "helper " + h[1] + " in " + h[0], "available")
                    : Check.fail(B, "helper " + h[1] + " in " + h[0], "missing",
                            "needs Linux >= " + KernelRequirements.minimum() + " with CONFIG_BPF_SYSCALL and CONFIG_CGROUP_BPF"
                                    + " (docs/compatibility.md)"));
        }
        return out;
    }

    private static String mountPoint(String mounts, String type) {
        return mounts.lines().map(l -> l.split(" ")).filter(f -> f.length > 2 && f[2].equals(type)).map(f -> f[1])
                .findFirst().orElse("?");
    }

    private String read(String absolute) {
        try {
            return Files.readString(p(absolute));
        } catch (IOException e) {
            return "";
        }
    }
}
