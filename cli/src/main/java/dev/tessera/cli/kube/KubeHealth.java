package dev.tessera.cli.kube;

import dev.tessera.api.config.BuildInfo;
import dev.tessera.api.config.Ports;
import dev.tessera.cli.observe.Check;
import dev.tessera.cli.observe.ClusterCheck;
import dev.tessera.cli.observe.PromText;
import dev.tessera.cli.observe.Versions;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinition;
import io.fabric8.kubernetes.api.model.apps.DaemonSet;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import java.io.IOException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * {@code tessera check} against a cluster: the CRDs are installed, the controller Deployment and every
 * agent of the DaemonSet are ready, the controllers answer (one of them leads), and each agent's metrics —
 * read through the API server's pod proxy — show full mesh coverage and valid certificates
 * ({@link ClusterCheck#evaluate}, the same rules as for a local cluster); last, the versions of client,
 * controllers and agents (an agent newer than its controller is refused by it).
 */
public final class KubeHealth {

    private static final String CLUSTER = "cluster";
    private static final String CONTROLLER = "controller";
    private static final String AGENTS = "agents";
    private static final String VERSIONS = "versions";

    private final KubeCluster cluster;

    public KubeHealth(KubeCluster cluster) {
        this.cluster = cluster;
    }

    /** Every check. */
    public List<Check> run() {
        List<Check> out = new ArrayList<>();
        Check api = ClusterPreflight.version(cluster);
        out.add(api);
        if (api.status() == Check.Status.FAIL && api.name().equals("API server")) {
            return out;
        }
        for (HasMetadata o : ClusterPreflight.installObjects(cluster.namespace())) {
            if (o instanceof CustomResourceDefinition crd) {
                String name = crd.getMetadata().getName();
                out.add(cluster.client().apiextensions().v1().customResourceDefinitions().withName(name).get() != null
                        ? Check.ok(CLUSTER, "CRD " + name, "installed")
                        : Check.fail(CLUSTER, "CRD " + name, "missing (expected: installed with Tessera)",
                                "policies of this kind cannot be created and the controller's watch fails: re-apply"
                                        + " tessera install (or daemonset/crds/)"));
            }
        }
        Map<String, String> versions = new TreeMap<>();
        out.addAll(controller(versions));
        out.addAll(agents(versions));
        out.addAll(skew(versions));
        return out;
    }

    private List<Check> controller(Map<String, String> versions) {
        List<Check> out = new ArrayList<>();
        Deployment d = cluster.client().apps().deployments().inNamespace(cluster.namespace())
                .withName(KubeCluster.CONTROLLER).get();
        if (d == null) {
            out.add(Check.fail(CONTROLLER, "Deployment " + KubeCluster.CONTROLLER, "not found in namespace "
                    + cluster.namespace(), "is Tessera installed there? (tessera install | kubectl apply -f -, or"
                    + " --namespace)"));
            return out;
        }
        int want = d.getSpec().getReplicas() == null ? 1 : d.getSpec().getReplicas();
        int ready = d.getStatus() == null || d.getStatus().getReadyReplicas() == null ? 0 : d.getStatus().getReadyReplicas();
        out.add(ready >= want && want > 0
                ? Check.ok(CONTROLLER, "Deployment " + KubeCluster.CONTROLLER, ready + "/" + want + " replicas ready")
                : Check.fail(CONTROLLER, "Deployment " + KubeCluster.CONTROLLER, ready + "/" + want
                        + " replicas ready (expected: " + want + ")", "kubectl -n " + cluster.namespace()
                        + " describe deployment " + KubeCluster.CONTROLLER + "; its pods' logs say why"));
        double leaders = 0;
        int answered = 0;
        var replicas = new java.util.LinkedHashMap<String, List<PromText.Sample>>();
        for (Pod p : cluster.controllerPods()) {
            String pod = p.getMetadata().getName();
            try {
                List<PromText.Sample> m = cluster.metrics(pod, Ports.CONTROLLER_METRICS);
                answered++;
                leaders += PromText.sum(m, "tessera_controller_is_leader", Map.of());
                replicas.put(pod, m);
                versions.put("controller " + pod, Versions.version(m));
                out.add(Check.ok(CONTROLLER, "pod " + pod, "metrics :" + Ports.CONTROLLER_METRICS + " answer ("
                        + (long) PromText.sum(m, "tessera_controller_connected_agents", Map.of()) + " agents connected)"));
            } catch (IOException | RuntimeException e) {
                out.add(Check.fail(CONTROLLER, "pod " + pod, "unreachable: " + e.getMessage(),
                        "the controller must answer on :" + Ports.CONTROLLER_METRICS + " (is it running? kubectl -n "
                                + cluster.namespace() + " logs " + pod + ")"));
            }
        }
        if (answered > 0) {
            out.add(leaders >= 1 ? Check.ok(CONTROLLER, "leader", (long) leaders + " replica(s) lead")
                    : Check.fail(CONTROLLER, "leader", "no replica holds the Lease tessera-controller-leader",
                            "without a leader no certificate authority or policy status is written: see the controllers' logs"));
        }
        out.addAll(rootCa(replicas, cluster.namespace()));
        return out;
    }

    /**
     * The root CA as the controller replicas report it (each watches the CA Secret; the leader drives a
     * rotation): a replica that rejected the CA Secret fails the check, a rotation under way on any replica warns
     * (with its phase and what it waits for), otherwise OK. Nothing from controllers that predate rotation
     * metrics.
     */
    static List<Check> rootCa(Map<String, List<PromText.Sample>> replicas, String namespace) {
        String phase = null;
        List<PromText.Sample> m = null; // the replica whose phase is reported: one not STABLE if any
        for (var r : replicas.values()) {
            for (PromText.Sample x : r) {
                if (x.name().equals("tessera_controller_trust_rotation_phase") && x.value() >= 1
                        && (phase == null || phase.equals("STABLE"))) {
                    phase = x.labels().get("phase");
                    m = r;
                }
            }
        }
        if (phase == null) {
            return List.of();
        }
        long roots = (long) PromText.sum(m, "tessera_trust_roots", Map.of());
        var out = new ArrayList<Check>();
        for (var r : replicas.entrySet()) {
            if (PromText.sum(r.getValue(), "tessera_controller_ca_rejected", Map.of()) >= 1) {
                out.add(Check.fail(CONTROLLER, "CA Secret", "rejected by " + r.getKey() + ": the controller keeps its"
                        + " current " + (long) PromText.sum(r.getValue(), "tessera_trust_roots", Map.of())
                        + " root(s) and ignores the Secret until it is fixed",
                        "kubectl -n " + namespace + " logs " + r.getKey() + " | grep 'CA Secret' names the key and the"
                                + " expected value (tls.crt, tls.key, ca.crt: an ECDSA P-256 CA chaining to ca.crt)"));
                break;
            }
        }
        if (phase.equals("STABLE")) {
            out.add(Check.ok(CONTROLLER, "root CA", roots + " root(s), no rotation under way"));
        } else {
            out.add(Check.warn(CONTROLLER, "root CA", "root rotation under way: phase " + phase + ", " + roots
                    + " roots trusted, " + (long) PromText.sum(m, "tessera_controller_agents_without_current_bundle",
                            Map.of()) + " agent(s) without the current bundle, "
                    + (long) PromText.sum(m, "tessera_controller_certificates_under_old_issuers", Map.of())
                    + " certificate(s) under old issuers",
                    "agents re-issue within --root-rotation-window; the old root leaves after --root-rotation-overlap"
                            + " once no certificate chains to it"));
        }
        return out;
    }

    private List<Check> agents(Map<String, String> versions) {
        List<Check> out = new ArrayList<>();
        DaemonSet ds = cluster.client().apps().daemonSets().inNamespace(cluster.namespace())
                .withName(KubeCluster.AGENT).get();
        if (ds == null) {
            out.add(Check.fail(AGENTS, "DaemonSet " + KubeCluster.AGENT, "not found in namespace " + cluster.namespace(),
                    "is Tessera installed there? (tessera install | kubectl apply -f -, or --namespace)"));
            return out;
        }
        var s = ds.getStatus();
        int desired = s == null || s.getDesiredNumberScheduled() == null ? 0 : s.getDesiredNumberScheduled();
        int ready = s == null || s.getNumberReady() == null ? 0 : s.getNumberReady();
        out.add(ready == desired && desired > 0
                ? Check.ok(AGENTS, "DaemonSet " + KubeCluster.AGENT, ready + "/" + desired + " agents ready")
                : Check.fail(AGENTS, "DaemonSet " + KubeCluster.AGENT, ready + "/" + desired + " agents ready (expected: "
                        + "one ready agent on every node)", "a node without a ready agent is a hole in the mesh: see the"
                        + " node checks below"));
        Instant now = Instant.now();
        for (Pod p : cluster.agentPods()) {
            String pod = p.getMetadata().getName();
            String node = p.getSpec().getNodeName();
            String cat = "node " + (node == null ? "(unscheduled) " + pod : node);
            if (!KubeCluster.ready(p)) {
                out.add(Check.fail(cat, "agent ready", "pod " + pod + ": " + KubeCluster.notReadyReason(p)
                        + " (expected: Ready=True)", "kubectl -n " + cluster.namespace() + " logs " + pod
                        + "; readiness means programs attached, state synced and every local identity certified"));
            } else {
                out.add(Check.ok(cat, "agent ready", "pod " + pod));
            }
            if (node == null) {
                continue;
            }
            List<PromText.Sample> m;
            try {
                m = cluster.metrics(pod, Ports.METRICS);
                out.add(Check.ok(cat, "metrics", ":" + Ports.METRICS + "/metrics answers (" + m.size() + " samples)"));
            } catch (IOException | RuntimeException e) {
                out.add(Check.fail(cat, "metrics", e.getMessage(), "is the agent listening on :" + Ports.METRICS
                        + "? (a pending or crashing pod answers nothing)"));
                continue;
            }
            versions.put("agent " + node, Versions.version(m));
            out.addAll(ClusterCheck.evaluate(cat, m, now));
        }
        return out;
    }

    /**
     * Versions from {@code tessera_build_info}: all equal is OK; agents older than a controller are a warning
     * (served, upgrade them); an agent newer than a controller is a failure (the controller refuses it).
     */
    static List<Check> skew(Map<String, String> versions) {
        List<Check> out = new ArrayList<>();
        String newestController = versions.entrySet().stream().filter(e -> e.getKey().startsWith("controller "))
                .map(Map.Entry::getValue).filter(v -> !v.equals("unknown")).reduce((a, b) ->
                        Compatibility.compareRelease(a, b) >= 0 ? a : b).orElse(null);
        String detail = "client " + BuildInfo.VERSION + ", " + versions.entrySet().stream()
                .map(e -> e.getKey() + " " + e.getValue()).reduce((a, b) -> a + ", " + b).orElse("no component answered");
        if (newestController == null) {
            out.add(Check.warn(VERSIONS, "version skew", detail, "no controller reported its version"));
            return out;
        }
        List<String> newer = new ArrayList<>();
        List<String> older = new ArrayList<>();
        for (var e : versions.entrySet()) {
            if (e.getKey().startsWith("agent ") && !e.getValue().equals("unknown")) {
                int c = Compatibility.compareRelease(e.getValue(), newestController);
                if (c > 0) {
                    newer.add(e.getKey() + " " + e.getValue());
                } else if (c < 0) {
                    older.add(e.getKey() + " " + e.getValue());
                }
            }
        }
        if (!newer.isEmpty()) {
            out.add(Check.fail(VERSIONS, "version skew", "newer than controller " + newestController + ": "
                    + String.join(", ", newer) + " (expected: agents <= controller)",
                    "the controller refuses agents newer than itself: upgrade the controller first"));
        } else if (!older.isEmpty() || versions.values().stream().distinct().count() > 1) {
            out.add(Check.warn(VERSIONS, "version skew", detail, "an upgrade is under way or stalled: finish rolling"
                    + " the agents (kubectl rollout status ds/" + KubeCluster.AGENT + " in Tessera's namespace)"));
        } else {
            out.add(Check.ok(VERSIONS, "version skew", detail));
        }
        return out;
    }
}
