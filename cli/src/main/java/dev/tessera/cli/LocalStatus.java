package dev.tessera.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.tessera.api.netns.NetworkAttachments.NodeAttachment;
import dev.tessera.api.netns.NetworkAttachments.PodAttachment;
import dev.tessera.cli.local.NetnsCluster;
import dev.tessera.localcluster.ClusterDescription;
import java.io.IOException;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code tessera local status [-o json]}: nodes with their agents, pods with IP, node and mesh enrolment. */
@Command(name = "status", mixinStandardHelpOptions = true,
        description = "Show every node (IP, agent state) and pod (IP, node, meshed) of a local cluster.")
final class LocalStatus implements Callable<Integer> {

    @Option(names = "--name", description = "Cluster name (default: the only cluster, or 'tessera').")
    String name;

    @Option(names = {"-o", "--output"}, defaultValue = "table", description = "table or json (default: ${DEFAULT-VALUE}).")
    String output;

    @Override
    public Integer call() throws IOException {
        if (!output.equals("table") && !output.equals("json")) {
            throw new IllegalArgumentException("output: '" + output + "' (expected: table or json)");
        }
        NetnsCluster.requireRoot();
        NetnsCluster cluster = NetnsCluster.open(NetnsCluster.resolve(name));
        if (output.equals("json")) {
            System.out.println(new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(model(cluster)));
        } else {
            print(cluster, System.out);
        }
        return 0;
    }

    /** The status as plain maps and lists (the JSON output). */
    static Map<String, Object> model(NetnsCluster cluster) {
        ClusterDescription manifests = null;
        try {
            manifests = ClusterDescription.load(cluster.manifests());
        } catch (IOException | RuntimeException e) {
            // shown as meshed: null ("?") — the manifests may have been edited into an invalid state
        }
        var nodes = new ArrayList<Map<String, Object>>();
        for (NodeAttachment n : cluster.network().nodes()) {
            var m = new LinkedHashMap<String, Object>();
            m.put("name", n.name());
            m.put("ip", n.ip());
            m.put("podCidr", n.podCidr());
            m.put("agent", cluster.agentState(n.name()));
            var pid = cluster.agentPid(n.name());
            m.put("agentPid", pid.isPresent() ? pid.getAsLong() : null);
            m.put("netns", n.netns());
            nodes.add(m);
        }
        var pods = new ArrayList<Map<String, Object>>();
        for (PodAttachment p : cluster.network().pods()) {
            var m = new LinkedHashMap<String, Object>();
            m.put("namespace", p.namespace());
            m.put("name", p.name());
            m.put("ip", p.ip());
            m.put("node", p.node());
            m.put("meshed", manifests == null ? null : manifests.pod(p.namespace(), p.name()).map(manifests::meshed).orElse(null));
            m.put("netns", p.netns());
            pods.add(m);
        }
        var out = new LinkedHashMap<String, Object>();
        out.put("cluster", cluster.name());
        out.put("manifests", cluster.manifests().toString());
        out.put("stateDir", cluster.stateDir().toString());
        var controller = new LinkedHashMap<String, Object>();
        controller.put("address", NetnsCluster.CONTROLLER_IP + ":15012");
        controller.put("state", cluster.controllerState());
        var cpid = cluster.controllerPid();
        controller.put("pid", cpid.isPresent() ? cpid.getAsLong() : null);
        out.put("controller", controller);
        out.put("nodes", nodes);
        out.put("pods", pods);
        return out;
    }

    @SuppressWarnings("unchecked")
    static void print(NetnsCluster cluster, PrintStream out) {
        Map<String, Object> m = model(cluster);
        out.println("cluster " + m.get("cluster") + "  manifests " + m.get("manifests"));
        var c = (Map<String, Object>) m.get("controller");
        out.println("controller " + c.get("address") + "  " + c.get("state")
                + (c.get("pid") == null ? "" : " (pid " + c.get("pid") + ")"));
        var rows = new ArrayList<List<String>>();
        rows.add(List.of("NODE", "IP", "POD CIDR", "AGENT"));
        for (var n : (List<Map<String, Object>>) m.get("nodes")) {
            Object pid = n.get("agentPid");
            rows.add(List.of(str(n.get("name")), str(n.get("ip")), str(n.get("podCidr")),
                    n.get("agent") + (pid == null ? "" : " (pid " + pid + ")")));
        }
        table(rows, out);
        out.println();
        rows.clear();
        rows.add(List.of("POD", "IP", "NODE", "MESHED"));
        for (var p : (List<Map<String, Object>>) m.get("pods")) {
            Object meshed = p.get("meshed");
            rows.add(List.of(p.get("namespace") + "/" + p.get("name"), str(p.get("ip")), str(p.get("node")),
                    meshed == null ? "?" : ((Boolean) meshed ? "yes" : "no")));
        }
        table(rows, out);
    }

    private static String str(Object o) {
        return String.valueOf(o);
    }

    private static void table(List<List<String>> rows, PrintStream out) {
        int cols = rows.get(0).size();
        int[] w = new int[cols];
        for (var r : rows) {
            for (int i = 0; i < cols; i++) {
                w[i] = Math.max(w[i], r.get(i).length());
            }
        }
        for (var r : rows) {
            var line = new StringBuilder();
            for (int i = 0; i < cols; i++) {
                line.append(i == cols - 1 ? r.get(i) : String.format("%-" + (w[i] + 2) + "s", r.get(i)));
            }
            out.println(line.toString().stripTrailing());
        }
    }
}
