package dev.tessera.cli.observe;

import dev.tessera.api.netns.NetworkAttachments.NodeAttachment;
import dev.tessera.cli.local.NetnsCluster;
import dev.tessera.cli.local.NodeHttp;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/**
 * Reaches the node agents of a local cluster from inside each node's network namespace: readiness
 * ({@code :15021}), metrics ({@code :15020}) and the localhost-only admin API ({@code :15000}).
 */
public final class Agents {

    /** Agent ports (the brief's). */
    public static final int ADMIN = dev.tessera.api.config.Ports.ADMIN;
    public static final int METRICS = dev.tessera.api.config.Ports.METRICS;
    public static final int READY = dev.tessera.api.config.Ports.READY;

    private final NetnsCluster cluster;
    private final Duration timeout;

    public Agents(NetnsCluster cluster, Duration timeout) {
        this.cluster = cluster;
        this.timeout = timeout;
    }

    public NetnsCluster cluster() {
        return cluster;
    }

    /** The cluster's node names. */
    public List<String> nodes() {
        return cluster.network().nodes().stream().map(NodeAttachment::name).toList();
    }

    private Path netns(String node) {
        return cluster.nodeNetns(node);
    }

    /** {@code GET /healthz/ready}. */
    public NodeHttp.Response ready(String node) throws IOException {
        return NodeHttp.get(netns(node), cluster.node(node).ip(), READY, "/healthz/ready", timeout);
    }

    /** The agent's metrics, parsed. */
    public List<PromText.Sample> metrics(String node) throws IOException {
        NodeHttp.Response r = NodeHttp.get(netns(node), cluster.node(node).ip(), METRICS, "/metrics", timeout);
        if (r.status() != 200) {
            throw new IOException("node " + node + ": metrics answered HTTP " + r.status());
        }
        return PromText.parse(r.body());
    }

    /** {@code GET} an admin path (e.g. {@code /config_dump}) on the node's localhost. */
    public String admin(String node, String path) throws IOException {
        NodeHttp.Response r = NodeHttp.get(netns(node), "127.0.0.1", ADMIN, path, timeout);
        if (r.status() != 200) {
            throw new IOException("node " + node + ": admin " + path + " answered HTTP " + r.status() + ": "
                    + r.body().strip());
        }
        return r.body();
    }
}
