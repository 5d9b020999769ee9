package dev.tessera.cli.observe;

import dev.tessera.api.config.BuildInfo;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/** The versions a cluster's components report through their {@code tessera_build_info} metric. */
public final class Versions {

    private Versions() {}

    /** Reads one component's metrics. */
    @FunctionalInterface
    public interface Scrape {
        List<PromText.Sample> get() throws IOException;
    }

    /** Reads one node agent's metrics. */
    @FunctionalInterface
    public interface NodeScrape {
        List<PromText.Sample> get(String node) throws IOException;
    }

    /**
     * One component: its version, or why it is not known.
     *
     * @param node    the agent's node; null for the controller
     * @param version from {@code tessera_build_info}; null when it did not answer
     * @param error   why there is no version; null when it answered
     */
    public record Component(String node, String version, String error) {}

    /** @param name the local cluster */
    public record Cluster(String name, Component controller, List<Component> agents) {
        /** True when every component answered. */
        public boolean allAnswered() {
            return controller.error() == null && agents.stream().allMatch(a -> a.error() == null);
        }
    }

    /** The version in {@code tessera_build_info}; {@code unknown} when the metric is absent (an older build). */
    public static String version(List<PromText.Sample> metrics) {
        for (PromText.Sample s : metrics) {
            if (s.name().equals(BuildInfo.METRIC) && s.label("version") != null) {
                return s.label("version");
            }
        }
        return "unknown";
    }

    /** Asks the controller and every node's agent. */
    public static Cluster collect(String name, Scrape controller, List<String> nodes, NodeScrape agent) {
        var agents = new ArrayList<Component>();
        for (String node : nodes) {
            agents.add(component(node, () -> agent.get(node)));
        }
        return new Cluster(name, component(null, controller), agents);
    }

    private static Component component(String node, Scrape scrape) {
        try {
            return new Component(node, version(scrape.get()), null);
        } catch (IOException | RuntimeException e) {
            return new Component(node, null, e.getMessage() == null ? e.toString() : e.getMessage());
        }
    }

    /** The table form: one line per component. */
    public static String table(String client, Cluster cluster) {
        var b = new StringBuilder();
        b.append(String.format("%-22s %s%n", "client", client));
        if (cluster == null) {
            return b.toString();
        }
        b.append(String.format("%-22s %s%n", "controller", shown(cluster.controller())));
        for (Component a : cluster.agents()) {
            b.append(String.format("%-22s %s%n", "agent " + a.node(), shown(a)));
        }
        return b.toString();
    }

    private static String shown(Component c) {
        return c.error() == null ? c.version() : "unreachable: " + c.error();
    }
}
