package dev.tessera.agent.redirect;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps a pod's replies to a transparent delivery on the agent's socket. The agent dials local pods from the
 * client pod's address ({@code netty.Delivery}); in the node's network namespace the pod's answer is addressed
 * to that client pod, which the node would forward (to the client pod's node, or to its veth on this node).
 * The classic TPROXY policy routing turns it back to the agent:
 * <pre>
 * iptables -t mangle -I PREROUTING -p tcp -m socket --transparent -j MARK --set-xmark M/M   # packets of a transparent socket
 * ip rule add fwmark M/M lookup T pref T                                                       # go to table T
 * ip route replace local 0.0.0.0/0 dev lo table T                                              # which delivers locally
 * </pre>
 * {@code -m socket --transparent} matches only packets whose 4-tuple belongs to a local socket with
 * IP_TRANSPARENT, so nothing else on the node is rerouted. IPv6 needs the same three lines of its own family
 * ({@code ip6tables}, {@code ip -6 rule}, {@code ip -6 route replace local ::/0 dev lo table T}), installed by
 * {@link #install6} on a node with an IPv6 address ({@code --node-ip6}): IPv4 rules never see an IPv6 reply, so
 * without them a transparent IPv6 delivery's replies would be forwarded away from the agent. Installed idempotently at every start (a restart or an
 * upgrade finds the rules in place and changes nothing), never removed by stopping (open deliveries of the
 * previous agent keep their replies during an upgrade), removed by {@code --uninstall}. Shells out to
 * {@code iptables} and {@code ip} (in the agent image); the agent holds NET_ADMIN in the node's namespace.
 */
public final class ReplyRouting {

    private static final Logger log = LoggerFactory.getLogger(ReplyRouting.class);
    private static final String COMMENT = "tessera: replies to the agent's transparent deliveries";

    private ReplyRouting() {}

    /**
     * Installs the rules (those already present are kept).
     *
     * @return null when in place, else why not (the agent then dials pods from the node address)
     */
    public static String install(int mark, int table) {
        try {
            String m = markText(mark);
            if (run(iptables("-C", m)) != 0) {
                check(iptables("-I", m));
            }
            String rules = output(List.of(tool("ip"), "-o", "rule", "show", "pref", "" + table));
            if (!rules.contains("lookup " + table)) {
                check(List.of(tool("ip"), "rule", "add", "fwmark", m, "lookup", "" + table, "pref", "" + table));
            }
            check(List.of(tool("ip"), "route", "replace", "local", "0.0.0.0/0", "dev", "lo", "table", "" + table));
            log.info("reply routing in place: mark {} -> table {} (local 0.0.0.0/0 dev lo)", m, table);
            return null;
        } catch (IOException e) {
            return e.getMessage();
        }
    }

    /**
     * Installs the IPv6 rules (those already present are kept): the same mark and table as {@link #install}.
     *
     * @return null when in place, else why not (IPv6 deliveries must then be dialled from the node address)
     */
    public static String install6(int mark, int table) {
        try {
            String m = markText(mark);
            if (run(ip6tables("-C", m)) != 0) {
                check(ip6tables("-I", m));
            }
            String rules = output(List.of(tool("ip"), "-6", "-o", "rule", "show", "pref", "" + table));
            if (!rules.contains("lookup " + table)) {
                check(List.of(tool("ip"), "-6", "rule", "add", "fwmark", m, "lookup", "" + table, "pref", "" + table));
            }
            check(List.of(tool("ip"), "-6", "route", "replace", "local", "::/0", "dev", "lo", "table", "" + table));
            log.info("IPv6 reply routing in place: mark {} -> table {} (local ::/0 dev lo)", m, table);
            return null;
        } catch (IOException e) {
            return e.getMessage();
        }
    }

    /** Removes what {@link #install} and {@link #install6} added (no-op when absent). */
    public static void uninstall(int mark, int table) {
        try {
            String m = markText(mark);
            for (int i = 0; i < 16 && run(iptables("-D", m)) == 0; i++) {
                // every copy
            }
            for (int i = 0; i < 16 && run(List.of(tool("ip"), "rule", "del", "fwmark", m, "lookup", "" + table,
                    "pref", "" + table)) == 0; i++) {
                // every copy
            }
            run(List.of(tool("ip"), "route", "flush", "table", "" + table));
        } catch (IOException e) {
            log.warn("reply routing not removed: {}", e.getMessage());
        }
        try {
            String m = markText(mark);
            for (int i = 0; i < 16 && run(ip6tables("-D", m)) == 0; i++) {
                // every copy
            }
            for (int i = 0; i < 16 && run(List.of(tool("ip"), "-6", "rule", "del", "fwmark", m, "lookup", "" + table,
                    "pref", "" + table)) == 0; i++) {
                // every copy
            }
            run(List.of(tool("ip"), "-6", "route", "flush", "table", "" + table));
        } catch (IOException e) { // no ip6tables (a node that never had IPv6 rules): nothing to remove
            log.debug("IPv6 reply routing not removed: {}", e.getMessage());
        }
    }

    static String markText(int mark) {
        return "0x" + Integer.toHexString(mark) + "/0x" + Integer.toHexString(mark);
    }

    private static List<String> iptables(String op, String mark) throws IOException {
        return mangleRule("iptables", op, mark);
    }

    private static List<String> ip6tables(String op, String mark) throws IOException {
        return mangleRule("ip6tables", op, mark);
    }

    private static List<String> mangleRule(String tool, String op, String mark) throws IOException {
        return List.of(tool(tool), "-w", "5", "-t", "mangle", op, "PREROUTING", "-p", "tcp", "-m", "socket",
                "--transparent", "-m", "comment", "--comment", COMMENT, "-j", "MARK", "--set-xmark", mark);
    }

    /** The tool's path: on PATH, or in the sbin directories a minimal PATH may lack. */
    static String tool(String name) throws IOException {
        var dirs = new ArrayList<String>();
        String path = System.getenv("PATH");
        if (path != null) {
            dirs.addAll(List.of(path.split(":")));
        }
        dirs.addAll(List.of("/usr/sbin", "/sbin", "/usr/bin", "/bin"));
        for (String d : dirs) {
            Path p = Path.of(d.isEmpty() ? "." : d, name);
            if (Files.isExecutable(p)) {
                return p.toString();
            }
        }
        throw new IOException(name + " not found (hint: the agent image needs iptables and iproute2)");
    }

    static void check(List<String> cmd) throws IOException {
        int rc = run(cmd);
        if (rc != 0) {
            throw new IOException(String.join(" ", cmd) + ": exit " + rc);
        }
    }

    static int run(List<String> cmd) throws IOException {
        return exec(cmd).rc;
    }

    static String output(List<String> cmd) throws IOException {
        Result r = exec(cmd);
        if (r.rc != 0) {
            throw new IOException(String.join(" ", cmd) + ": exit " + r.rc + ": " + r.out.strip());
        }
        return r.out;
    }

    private record Result(int rc, String out) {}

    private static Result exec(List<String> cmd) throws IOException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        try {
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!p.waitFor(10, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IOException(String.join(" ", cmd) + ": timed out");
            }
            if (p.exitValue() != 0) {
                log.debug("{}: exit {}: {}", cmd, p.exitValue(), out.strip());
            }
            return new Result(p.exitValue(), out);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            p.destroyForcibly();
            throw new IOException(String.join(" ", cmd) + ": interrupted", e);
        }
    }
}
