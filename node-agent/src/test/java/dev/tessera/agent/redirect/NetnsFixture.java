package dev.tessera.agent.redirect;

import static org.assertj.core.api.Assertions.fail;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Assumptions;

/**
 * Network namespaces for the redirect tests (prefix {@code tsE-}, addresses in 198.18.0.0/15 and
 * 2001:db8::/32 only):
 * <pre>
 *   tsE-pod  198.18.200.2 --veth-- 198.18.200.1 (node IP)   tsE-node   lo: 198.18.201.1, 198.19.9.1
 *            2001:db8:200::2       2001:db8:200::1 (node IPv6)         2001:db8:201::1, 2001:db8:201::9,
 *                                                                      2001:db8:209::1
 *   tsE-pod2 198.18.202.2 --veth-- 198.18.202.1
 *            2001:db8:202::2       2001:db8:202::1
 * </pre>
 * IPv6 addresses are added without duplicate address detection ({@code nodad}), so they are usable at once.
 */
final class NetnsFixture implements AutoCloseable {

    static final String NODE = "tsE-node";
    static final String POD = "tsE-pod";
    static final String POD2 = "tsE-pod2";

    /** Skips (allowSkip=true, the default) or fails (allowSkip=false, CI) when not root. */
    static void requireRoot() throws IOException {
        boolean root = Files.readAllLines(Path.of("/proc/self/status")).stream()
                .anyMatch(l -> l.matches("Uid:\\s+0\\s.*"));
        if (root) {
            return;
        }
        String msg = "netns tests need root (real namespaces, cgroup BPF)";
        if (Boolean.parseBoolean(System.getProperty("tessera.netns.allowSkip", "true"))) {
            Assumptions.abort(msg);
        }
        fail(msg + " and tessera.netns.allowSkip=false");
    }

    static Path path(String name) {
        return Path.of("/var/run/netns", name);
    }

    NetnsFixture() throws IOException, InterruptedException {
        close(); // leftovers of an aborted run
        for (String ns : List.of(NODE, POD, POD2)) {
            ip("netns", "add", ns);
            ip("-n", ns, "link", "set", "lo", "up");
        }
        ip("link", "add", "tsE-n0", "netns", NODE, "type", "veth", "peer", "name", "tsE-p0", "netns", POD);
        ip("link", "add", "tsE-n1", "netns", NODE, "type", "veth", "peer", "name", "tsE-p1", "netns", POD2);
        ip("-n", NODE, "addr", "add", "198.18.200.1/24", "dev", "tsE-n0");
        ip("-n", NODE, "addr", "add", "198.18.202.1/24", "dev", "tsE-n1");
        ip("-n", NODE, "addr", "add", "198.18.201.1/32", "dev", "lo");
        ip("-n", NODE, "addr", "add", "198.19.9.1/32", "dev", "lo");
        ip("-n", NODE, "addr", "add", "2001:db8:200::1/64", "dev", "tsE-n0", "nodad");
        ip("-n", NODE, "addr", "add", "2001:db8:202::1/64", "dev", "tsE-n1", "nodad");
        for (String lo : List.of("2001:db8:201::1/128", "2001:db8:201::9/128", "2001:db8:209::1/128")) {
            ip("-n", NODE, "addr", "add", lo, "dev", "lo", "nodad");
        }
        ip("-n", NODE, "link", "set", "tsE-n0", "up");
        ip("-n", NODE, "link", "set", "tsE-n1", "up");
        ip("-n", POD, "addr", "add", "198.18.200.2/24", "dev", "tsE-p0");
        ip("-n", POD, "link", "set", "tsE-p0", "up");
        ip("-n", POD, "route", "add", "default", "via", "198.18.200.1");
        ip("-n", POD, "addr", "add", "2001:db8:200::2/64", "dev", "tsE-p0", "nodad");
        ip("-n", POD, "-6", "route", "add", "default", "via", "2001:db8:200::1");
        // Link-local is unreachable from the pod: an escaped connect fails at once, and no packet leaves.
        ip("-n", POD, "route", "add", "unreachable", "169.254.0.0/16");
        ip("-n", POD2, "addr", "add", "198.18.202.2/24", "dev", "tsE-p1");
        ip("-n", POD2, "link", "set", "tsE-p1", "up");
        ip("-n", POD2, "route", "add", "default", "via", "198.18.202.1");
        ip("-n", POD2, "addr", "add", "2001:db8:202::2/64", "dev", "tsE-p1", "nodad");
        ip("-n", POD2, "-6", "route", "add", "default", "via", "2001:db8:202::1");
    }

    private static void ip(String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of("ip"));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (p.waitFor() != 0) {
            throw new IOException(String.join(" ", cmd) + " failed: " + out);
        }
    }

    @Override
    public void close() throws IOException, InterruptedException {
        for (String ns : List.of(POD, POD2, NODE)) {
            if (Files.exists(path(ns))) {
                ip("netns", "del", ns); // its veth ends go with it
            }
        }
    }
}
