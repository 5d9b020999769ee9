package dev.tessera.cli.observe;

import java.util.Comparator;
import java.util.List;

/**
 * What the agent's eBPF programs ({@code ebpf-programs/src}) and its loader need of the kernel, each with the
 * first Linux release that has it; {@link #MIN_KERNEL}, the newest of them, is the ONE minimum both
 * {@code tessera check --pre} (this node) and {@code tessera check --pre --kube} (every node's
 * {@code nodeInfo}) enforce and {@code docs/compatibility.md} documents ({@code CompatibilityTest} ties the
 * three together and checks that every section, helper and map type the C sources use is listed here).
 *
 * <p>All programs of one object load together: one missing feature fails capture on that node.
 */
public final class KernelRequirements {

    /**
     * One kernel feature.
     *
     * @param major  first release having it
     * @param minor  first release having it
     * @param what   what it is, for people
     * @param tokens the words the C sources use for it (an ELF section, a helper, a map type), empty for what
     *               only the Java loader uses
     */
    public record Feature(int major, int minor, String what, List<String> tokens) {
        /** {@code 5.15}. */
        public String version() {
            return major + "." + minor;
        }
    }

    /** Oldest first. */
    public static final List<Feature> FEATURES = List.of(
            new Feature(3, 19, "hash and array maps", List.of("BPF_MAP_TYPE_HASH", "BPF_MAP_TYPE_ARRAY",
                    "bpf_map_lookup_elem", "bpf_map_update_elem")),
            new Feature(4, 6, "per-CPU array maps (event counters)", List.of("BPF_MAP_TYPE_PERCPU_ARRAY")),
            new Feature(4, 10, "cgroup_skb/ingress programs (plaintext policy, peerauth.bpf.c), LRU hash maps",
                    List.of("cgroup_skb/ingress", "BPF_MAP_TYPE_LRU_HASH", "bpf_skb_load_bytes")),
            new Feature(4, 11, "LPM trie maps (mesh CIDRs)", List.of("BPF_MAP_TYPE_LPM_TRIE")),
            new Feature(4, 13, "sockops programs (BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB)",
                    List.of("sockops", "BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB")),
            new Feature(4, 16, "BPF_SOCK_OPS_RETRANS_CB and bpf_sock_ops_cb_flags_set (TCP health)",
                    List.of("bpf_sock_ops_cb_flags_set", "BPF_SOCK_OPS_RETRANS_CB")),
            new Feature(4, 17, "cgroup/connect4 and connect6 hooks", List.of("cgroup/connect4", "cgroup/connect6")),
            new Feature(4, 18, "BTF of the loaded object (socket storage maps need their key and value BTF; the"
                    + " kernel's own /sys/kernel/btf/vmlinux is not needed: no CO-RE)", List.of()),
            new Feature(4, 20, "queue maps and bpf_map_push_elem (plaintext decision events)",
                    List.of("BPF_MAP_TYPE_QUEUE", "bpf_map_push_elem")),
            new Feature(5, 2, "socket storage maps (BPF_MAP_TYPE_SK_STORAGE)", List.of("BPF_MAP_TYPE_SK_STORAGE")),
            new Feature(5, 3, "bpf_sk_storage_get/delete in sock_addr and sock_ops programs; BPF_SOCK_OPS_RTT_CB",
                    List.of("bpf_sk_storage_get", "bpf_sk_storage_delete", "BPF_SOCK_OPS_RTT_CB")),
            new Feature(5, 7, "cgroup bpf_link (attach, update, pin); bpf_get_netns_cookie and "
                    + "bpf_get_current_cgroup_id in sock_addr programs (cgroup/connect4)",
                    List.of("bpf_get_current_cgroup_id")),
            new Feature(5, 8, "cgroup/getpeername4 and getpeername6 hooks; bpf_setsockopt(SO_MARK) in cgroup/connect4 "
                    + "(kubelet probe mark); bpf_link info of cgroup links",
                    List.of("cgroup/getpeername4", "cgroup/getpeername6", "bpf_setsockopt")),
            new Feature(5, 8, "BPF ring buffers and bpf_ringbuf_output, pollable with epoll (the plaintext events'"
                    + " doorbell)", List.of("BPF_MAP_TYPE_RINGBUF", "bpf_ringbuf_output")),
            new Feature(5, 14, "lookup-and-delete on hash and LRU maps (original destinations taken once); the"
                    + " SO_NETNS_COOKIE socket option (the agent reads each pod namespace's cookie)", List.of()),
            new Feature(5, 15, "bpf_get_netns_cookie in sockops programs (TCP health: HBONE sockets of the agent's own network namespace)",
                    List.of("bpf_get_netns_cookie")));

    /** The newest feature's release: what a node needs. */
    public static final int[] MIN_KERNEL = FEATURES.stream()
            .max(Comparator.comparingInt((Feature f) -> f.major()).thenComparingInt(Feature::minor))
            .map(f -> new int[] {f.major(), f.minor()}).orElseThrow();

    private KernelRequirements() {}

    /** {@code 5.15}. */
    public static String minimum() {
        return MIN_KERNEL[0] + "." + MIN_KERNEL[1];
    }

    /** The features of the newest release, what a node one release older lacks (for hints). */
    public static String newest() {
        return FEATURES.stream().filter(f -> f.major() == MIN_KERNEL[0] && f.minor() == MIN_KERNEL[1])
                .map(Feature::what).reduce((a, b) -> a + "; " + b).orElseThrow();
    }
}
