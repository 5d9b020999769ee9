package dev.tessera.cli;

import dev.tessera.cli.local.NetnsCluster;
import java.io.IOException;
import java.time.Duration;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code tessera local rotate-root}: generates a new root for a running local cluster and asks its
 * controller to rotate to it online. The new root is appended to the CA directory's {@code ca.crt} (what
 * agents verify the controller with) and put in {@code rotation/} ({@code ca.crt}, {@code ca.key},
 * {@code overlap}), which the controller picks up: it publishes the new root next to the old one, switches
 * signing once every agent holds both, and drops the old root when no held certificate chains to it and
 * the overlap has passed (then {@code ca.crt} holds the new root only).
 */
@Command(name = "rotate-root", mixinStandardHelpOptions = true,
        description = "Rotate the cluster's root CA while it runs: publish a new root next to the old one, re-issue"
                + " every workload certificate under it, then drop the old root. Follow it with `tessera check`.")
final class LocalRotateRoot implements Callable<Integer> {

    @Option(names = "--name", description = "Cluster name (default: the only cluster, or 'tessera').")
    String name;

    @Option(names = "--overlap", defaultValue = "5m", description = "Least time the old root stays trusted after"
            + " the controller switched to the new one (e.g. 30s, 5m, 1h). Default: ${DEFAULT-VALUE}.")
    String overlap;

    @Override
    public Integer call() throws IOException {
        NetnsCluster.requireRoot();
        Duration o = parse(overlap);
        NetnsCluster cluster = NetnsCluster.open(NetnsCluster.resolve(name));
        java.security.cert.X509Certificate next;
        try {
            next = cluster.rotateRoot(o);
        } catch (IllegalStateException e) {
            System.err.println(e.getMessage());
            return 1;
        }
        System.out.println("root rotation requested: new root " + next.getSerialNumber().toString(16)
                + ", overlap " + overlap + "; follow it with `tessera check`");
        return 0;
    }

    static Duration parse(String text) {
        String t = text.trim().toLowerCase(java.util.Locale.ROOT);
        try {
            if (t.endsWith("ms")) {
                return Duration.ofMillis(Long.parseLong(t.substring(0, t.length() - 2)));
            }
            long n = Long.parseLong(t.substring(0, t.length() - 1));
            switch (t.charAt(t.length() - 1)) {
                case 's': return Duration.ofSeconds(n);
                case 'm': return Duration.ofMinutes(n);
                case 'h': return Duration.ofHours(n);
                default: break;
            }
        } catch (NumberFormatException | StringIndexOutOfBoundsException e) {
            // below
        }
        throw new IllegalArgumentException("--overlap: " + text + " (expected: a duration such as 30s, 5m or 1h)");
    }
}
