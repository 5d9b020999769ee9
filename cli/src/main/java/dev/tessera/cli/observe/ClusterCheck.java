package dev.tessera.cli.observe;

import dev.tessera.cli.local.NodeHttp;
import java.io.IOException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * {@code tessera check}: is the mesh healthy? For every node: the agent runs and is ready, its metrics
 * answer, every pod that should be meshed is captured by the kernel and certified (the agent's
 * continuous coverage check), every certificate is valid for a while, and no original destination was
 * lost.
 */
public final class ClusterCheck {

    /** Certificates expiring sooner than this are a warning. */
    static final Duration EXPIRY_WARNING = Duration.ofHours(1);

    private final Agents agents;

    public ClusterCheck(Agents agents) {
        this.agents = agents;
    }

    /** Every check, node by node. */
    public List<Check> run() {
        List<Check> out = new ArrayList<>();
        out.add(rotation(agents.cluster().caDir()));
        for (String node : agents.nodes()) {
            out.addAll(node(node, Instant.now()));
        }
        return out;
    }

    private List<Check> node(String node, Instant now) {
        String cat = "node " + node;
        List<Check> out = new ArrayList<>();
        String state = agents.cluster().agentState(node);
        if (state.equals("stopped")) {
            out.add(Check.fail(cat, "agent running", state, "start it: tessera local up (or see its log "
                    + agents.cluster().agentLog(node) + ")"));
            return out;
        }
        var pid = agents.cluster().agentPid(node);
        out.add(Check.ok(cat, "agent running", pid.isPresent() ? "pid " + pid.getAsLong() : state));
        try {
            NodeHttp.Response r = agents.ready(node);
            out.add(r.status() == 200 ? Check.ok(cat, "agent ready", ":15021/healthz/ready 200")
                    : Check.fail(cat, "agent ready", r.body().strip(), "see the agent log " + agents.cluster().agentLog(node)));
        } catch (IOException e) {
            out.add(Check.fail(cat, "agent ready", e.getMessage(), "is the agent listening on :15021?"));
        }
        List<PromText.Sample> m;
        try {
            m = agents.metrics(node);
            out.add(Check.ok(cat, "metrics", ":15020/metrics answers (" + m.size() + " samples)"));
        } catch (IOException | RuntimeException e) {
            out.add(Check.fail(cat, "metrics", e.getMessage(), "is the agent listening on :15020?"));
            return out;
        }
        out.addAll(evaluate(cat, m, now));
        return out;
    }

    /**
     * Trust roots (an agent exporting none predates root rotation: nothing to say): more than one root or a
     * certificate under a root that no longer signs means a root rotation is under way, which is a warning,
     * not a failure; a certificate under no root of the bundle is a failure.
     */
    static List<Check> trust(String cat, List<PromText.Sample> m) {
        if (m.stream().noneMatch(s -> s.name().equals("tessera_trust_roots"))) {
            return List.of();
        }
        int roots = (int) PromText.sum(m, "tessera_trust_roots", Map.of());
        int current = (int) PromText.sum(m, "tessera_workload_certificates", Map.of("signing", "true"));
        int old = (int) PromText.sum(m, "tessera_workload_certificates", Map.of("signing", "false"));
        int unknown = (int) PromText.sum(m, "tessera_workload_certificates", Map.of("root", "unknown"));
        String detail = roots + " root(s) trusted; certificates: " + current + " under the signing root"
                + (old - unknown > 0 ? ", " + (old - unknown) + " under an older root" : "")
                + (unknown > 0 ? ", " + unknown + " under no trusted root" : "");
        if (unknown > 0) {
            return List.of(Check.fail(cat, "trust roots", detail, "certificates that chain to no trusted root fail"
                    + " every handshake: see the agent log"));
        }
        if (roots > 1 || old > 0) {
            return List.of(Check.warn(cat, "trust roots", detail, "a root rotation is under way: certificates are"
                    + " re-issued under the new root, then the old root is dropped"));
        }
        return List.of(Check.ok(cat, "trust roots", detail));
    }

    /** The root rotation of a local cluster as its CA directory shows it (requested and not finished, or not). */
    static Check rotation(java.nio.file.Path caDir) {
        boolean pending = java.nio.file.Files.isDirectory(caDir.resolve("rotation"));
        int roots;
        try {
            roots = dev.tessera.api.identity.CertificateAuthority.Pem.readCertificates(
                    java.nio.file.Files.readString(caDir.resolve("ca.crt"))).size();
        } catch (IOException e) {
            return Check.fail("cluster", "root CA", caDir.resolve("ca.crt") + ": " + e.getMessage(),
                    "the local cluster's CA directory is damaged");
        }
        return pending ? Check.warn("cluster", "root CA", "root rotation under way (" + roots + " roots in ca.crt)",
                "the controller drops the old root once every certificate is re-issued and the overlap passed")
                : Check.ok("cluster", "root CA", roots + " root(s), no rotation under way");
    }

    /** The checks that read an agent's metrics (pure: unit-tested). */
    public static List<Check> evaluate(String cat, List<PromText.Sample> m, Instant now) {
        List<Check> out = new ArrayList<>();
        int expected = (int) PromText.sum(m, "tessera_mesh_pods", Map.of("state", "expected"));
        int captured = (int) PromText.sum(m, "tessera_mesh_pods", Map.of("state", "captured"));
        int certified = (int) PromText.sum(m, "tessera_mesh_pods", Map.of("state", "certified"));
        int gap = (int) PromText.sum(m, "tessera_mesh_coverage_gap", Map.of());
        String counts = expected + " expected, " + captured + " captured, " + certified + " certified";
        out.add(gap == 0 && captured == expected && certified == expected
                ? Check.ok(cat, "mesh coverage", counts)
                : Check.fail(cat, "mesh coverage", counts + " (gap " + gap + ")",
                        "tessera config NODE shows which pods (coverage.uncaptured / uncertified); uncaptured pods "
                                + "talk only after re-enrollment"));
        List<PromText.Sample> expiry = m.stream()
                .filter(s -> s.name().equals("tessera_certificate_expiry_timestamp_seconds")).toList();
        if (expiry.isEmpty()) {
            out.add(expected == 0 ? Check.ok(cat, "certificates", "no meshed pods on this node")
                    : Check.fail(cat, "certificates", "none held", "the agent could not get certificates: see its log"));
        }
        for (PromText.Sample s : expiry) {
            Instant notAfter = Instant.ofEpochMilli((long) (s.value() * 1000));
            Duration left = Duration.between(now, notAfter);
            String id = s.label("identity");
            if (left.isNegative()) {
                out.add(Check.fail(cat, "certificate " + id, "expired " + notAfter, "the agent renews at half life: see its log"));
            } else if (left.compareTo(EXPIRY_WARNING) < 0) {
                out.add(Check.warn(cat, "certificate " + id, "expires in " + left.toMinutes() + " min", "renewal is late"));
            } else {
                out.add(Check.ok(cat, "certificate " + id, "valid for " + left.toHours() + " h"));
            }
        }
        out.addAll(trust(cat, m));
        double misses = PromText.sum(m, "tessera_original_destination_lookups_total", Map.of("result", "miss"));
        out.add(misses == 0 ? Check.ok(cat, "original destinations", "no lookup missed")
                : Check.warn(cat, "original destinations", (long) misses + " lookup(s) missed",
                        "connections were refused: the sockops program may not be attached"));
        double dropped = PromText.sum(m, "tessera_access_log_dropped_total", Map.of());
        if (dropped > 0) {
            out.add(Check.warn(cat, "access log", (long) dropped + " line(s) dropped by the rate limit",
                    "a connection flood; metrics still count every connection"));
        }
        return out;
    }
}
