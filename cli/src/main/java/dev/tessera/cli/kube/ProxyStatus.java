package dev.tessera.cli.kube;

import dev.tessera.api.config.Ports;
import dev.tessera.cli.observe.PromText;
import io.fabric8.kubernetes.api.model.Pod;
import java.io.IOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * {@code tessera proxy-status}, like {@code istioctl proxy-status}: for every agent pod, which controller
 * replica it is connected to, the config version that replica published and the version the agent
 * acknowledged — read from each controller's {@code tessera_controller_mesh_version} and
 * {@code tessera_controller_agent_acked_version{node}} through the API server's pod proxy — and the version
 * the agent itself reports applied ({@code tessera_config_version}).
 */
public final class ProxyStatus {

    /** SYNCED: acknowledged the latest; STALE: behind; NOT_ACKED: connected, no ACK yet; NOT_CONNECTED: no replica serves it. */
    public enum Sync { SYNCED, STALE, NOT_ACKED, NOT_CONNECTED }

    /**
     * One agent.
     *
     * @param node        its node
     * @param pod         its pod
     * @param controller  the controller pod it is connected to; null when none reports it
     * @param acked       the version it acknowledged (-1 none); null when not connected
     * @param latest      the version that controller published; null when not connected
     * @param applied     what the agent reports applied ({@code tessera_config_version}); null when it did not answer
     * @param protocol    the push-protocol version negotiated; null when not connected
     * @param sync        the verdict
     */
    public record Row(String node, String pod, String controller, Long acked, Long latest, Long applied,
            String protocol, Sync sync) {}

    /**
     * @param rows        one per agent pod
     * @param unreachable controller pods (or agent pods) that did not answer, with why
     */
    public record Result(List<Row> rows, Map<String, String> unreachable) {
        /** True when every agent acknowledged its controller's latest version and every pod answered. */
        public boolean allSynced() {
            return unreachable.isEmpty() && !rows.isEmpty() && rows.stream().allMatch(r -> r.sync() == Sync.SYNCED);
        }
    }

    private record Seen(String controller, long acked, long latest, String protocol) {}

    private final KubeCluster cluster;

    public ProxyStatus(KubeCluster cluster) {
        this.cluster = cluster;
    }

    public Result run() {
        Map<String, String> unreachable = new LinkedHashMap<>();
        Map<String, Seen> byNode = new HashMap<>();
        List<Pod> controllers = cluster.controllerPods();
        if (controllers.isEmpty()) {
            unreachable.put("controller", "no controller pod in namespace " + cluster.namespace()
                    + " (expected: the Deployment " + KubeCluster.CONTROLLER + "'s pods)");
        }
        for (Pod c : controllers) {
            String name = c.getMetadata().getName();
            try {
                List<PromText.Sample> m = cluster.metrics(name, Ports.CONTROLLER_METRICS);
                long latest = (long) PromText.sum(m, "tessera_controller_mesh_version", Map.of());
                for (PromText.Sample s : m) {
                    if (s.name().equals("tessera_controller_agent_acked_version")) {
                        var seen = new Seen(name, (long) s.value(), latest, s.label("protocol_version"));
                        // the same node on two replicas (reconnecting): the furthest session counts
                        byNode.merge(s.label("node"), seen, (a, b) -> b.acked() > a.acked() ? b : a);
                    }
                }
            } catch (IOException | RuntimeException e) {
                unreachable.put(name, e.getMessage());
            }
        }
        List<Row> rows = new ArrayList<>();
        for (Pod a : cluster.agentPods()) {
            String pod = a.getMetadata().getName();
            String node = a.getSpec().getNodeName();
            Long applied = null;
            if (node != null) {
                try {
                    List<PromText.Sample> m = cluster.metrics(pod, Ports.METRICS);
                    applied = m.stream().anyMatch(s -> s.name().equals("tessera_config_version"))
                            ? (long) PromText.sum(m, "tessera_config_version", Map.of()) : null;
                } catch (IOException | RuntimeException e) {
                    unreachable.put(pod, e.getMessage());
                }
            }
            Seen seen = node == null ? null : byNode.get(node);
            if (seen == null) {
                rows.add(new Row(node, pod, null, null, null, applied, null, Sync.NOT_CONNECTED));
            } else {
                Sync sync = seen.acked() < 0 ? Sync.NOT_ACKED : seen.acked() >= seen.latest() ? Sync.SYNCED : Sync.STALE;
                rows.add(new Row(node, pod, seen.controller(), seen.acked(), seen.latest(), applied, seen.protocol(), sync));
            }
        }
        return new Result(rows, unreachable);
    }

    /** The table form. */
    public static String table(Result r) {
        List<String[]> t = new ArrayList<>();
        t.add(new String[] {"NODE", "AGENT", "CONTROLLER", "ACKED", "LATEST", "APPLIED", "PROTOCOL", "STATUS"});
        for (Row x : r.rows()) {
            t.add(new String[] {x.node() == null ? "-" : x.node(), x.pod(), x.controller() == null ? "-" : x.controller(),
                show(x.acked()), show(x.latest()), show(x.applied()), x.protocol() == null ? "-" : x.protocol(),
                x.sync().name()});
        }
        int[] w = new int[t.get(0).length];
        for (String[] row : t) {
            for (int i = 0; i < row.length; i++) {
                w[i] = Math.max(w[i], row[i].length());
            }
        }
        var b = new StringBuilder();
        for (String[] row : t) {
            var line = new StringBuilder();
            for (int i = 0; i < row.length; i++) {
                line.append(String.format("%-" + (w[i] + 2) + "s", row[i]));
            }
            b.append(line.toString().stripTrailing()).append('\n');
        }
        if (r.rows().isEmpty()) {
            b.append("(no agent pods)\n");
        }
        r.unreachable().forEach((pod, why) -> b.append("unreachable: ").append(pod).append(": ").append(why).append('\n'));
        return b.toString();
    }

    private static String show(Long v) {
        return v == null ? "-" : v < 0 ? "none" : String.valueOf(v);
    }
}
