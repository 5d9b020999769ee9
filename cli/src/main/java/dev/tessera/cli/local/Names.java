package dev.tessera.cli.local;

import dev.tessera.api.netns.NetworkAttachments;
import dev.tessera.localcluster.ClusterDescription;
import dev.tessera.localcluster.NetnsNaming;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.regex.Pattern;

/** Names of a local cluster's namespaces and files: short, valid and derived from the cluster name. */
public final class Names {

    /** Where {@code ip netns} keeps named network namespaces. */
    public static final Path NETNS_DIR = Path.of("/var/run/netns");
    /** Longest network namespace name we generate. */
    public static final int MAX_NETNS = 40;

    private static final Pattern CLUSTER = Pattern.compile("[a-z0-9]([a-z0-9-]{0,18}[a-z0-9])?");

    private Names() {}

    /** Fails unless {@code name} is 1-20 characters of lower-case letters, digits and inner dashes. */
    public static String checkCluster(String name) {
        if (name == null || !CLUSTER.matcher(name).matches()) {
            throw new IllegalArgumentException("cluster name: '" + name
                    + "' (expected: 1-20 characters a-z, 0-9 and '-', starting and ending with a letter or digit)");
        }
        return name;
    }

    public static String fabricNetns(String cluster) {
        return cluster + "-fabric";
    }

    /** The controller's namespace, linked to the fabric bridge. */
    public static String controlPlaneNetns(String cluster) {
        return cluster + "-cp";
    }

    public static String nodeNetns(String cluster, String node) {
        return shorten(cluster + "-n-" + node);
    }

    public static String podNetns(String cluster, String namespace, String pod) {
        // Namespaces are DNS labels (no '.'), so '.' separates them from the pod name unambiguously.
        return shorten(cluster + "-p-" + namespace + "." + pod);
    }

    /** The naming the addressing plan ({@code ClusterDescription.plan}) uses for local clusters. */
    public static final NetnsNaming NAMING = new NetnsNaming() {
        @Override
        public String node(String cluster, String node) {
            return netnsPath(nodeNetns(cluster, node)).toString();
        }

        @Override
        public String pod(String cluster, String namespace, String name) {
            return netnsPath(podNetns(cluster, namespace, name)).toString();
        }
    };

    /**
     * Reads a cluster description (file or folder) and plans its network: node and pod addresses and
     * namespace paths.
     */
    public static NetworkAttachments plan(Path manifests, String cluster) throws IOException {
        return plan(ClusterDescription.load(manifests), cluster);
    }

    /** As {@link #plan(Path, String)}, for a description already read. */
    public static NetworkAttachments plan(ClusterDescription description, String cluster) {
        return description.plan(checkCluster(cluster), NAMING);
    }

    public static Path netnsPath(String netns) {
        return NETNS_DIR.resolve(netns);
    }

    /** Keeps names valid as file names and short: long ones become a prefix plus a hash of the whole. */
    static String shorten(String name) {
        String clean = name.replaceAll("[^A-Za-z0-9_.-]", "_");
        if (clean.length() <= MAX_NETNS && clean.equals(name)) {
            return clean;
        }
        String hash = sha1(name).substring(0, 8);
        return clean.substring(0, Math.min(clean.length(), MAX_NETNS - 9)) + "-" + hash;
    }

    private static String sha1(String s) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-1").digest(s.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
