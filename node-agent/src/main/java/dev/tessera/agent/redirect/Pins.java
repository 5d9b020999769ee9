package dev.tessera.agent.redirect;

import java.nio.file.Path;
import java.util.List;

/**
 * Layout of an agent's bpffs pin directory: {@code <pinDir>/maps/<map name>} and
 * {@code <pinDir>/links/<program name>}.
 */
final class Pins {

    static final String ENROLLED = "tsr_enrolled";
    static final String MESH_CIDRS = "tsr_mesh_cidrs";
    static final String EXCLUDED = "tsr_excluded";
    static final String MESH_DSTS = "tsr_mesh_dsts";
    static final String CONFIG = "tsr_config";
    static final String ORIG_DST = "tsr_orig_dst";
    static final String CLIENT_DST = "tsr_client_dst";
    static final String STATS = "tsr_stats";
    /** The kubelet's cgroup and the probe mark (ProbeSnat). */
    static final String PROBE = "tsr_probe";
    /** Kernel TCP health (observability, tessera_tcp_health.h). */
    static final String TCP_HEALTH = "tsr_tcp_health";
    static final String TCP_SELF = "tsr_tcp_self";
    /** The native IPv6 counterparts (connect6, sockops, getpeername6). */
    static final String MESH_CIDRS6 = "tsr_mesh_cidrs6";
    static final String EXCLUDED6 = "tsr_excluded6";
    static final String MESH_DSTS6 = "tsr_mesh_dsts6";
    static final String CONFIG6 = "tsr_config6";
    static final String ORIG_DST6 = "tsr_orig_dst6";
    static final String CLIENT_DST6 = "tsr_client_dst6";
    static final List<String> MAPS = List.of(ENROLLED, MESH_CIDRS, EXCLUDED, MESH_DSTS, CONFIG, ORIG_DST, CLIENT_DST, STATS,
            TCP_HEALTH, TCP_SELF, PROBE, MESH_CIDRS6, EXCLUDED6, MESH_DSTS6, CONFIG6, ORIG_DST6, CLIENT_DST6);

    private final Path root;

    Pins(Path root) {
        this.root = root.toAbsolutePath().normalize();
    }

    Path root() {
        return root;
    }

    Path mapsDir() {
        return root.resolve("maps");
    }

    Path linksDir() {
        return root.resolve("links");
    }

    Path map(String name) {
        return mapsDir().resolve(name);
    }

    Path link(Hook hook) {
        return linksDir().resolve(hook.program);
    }
}
