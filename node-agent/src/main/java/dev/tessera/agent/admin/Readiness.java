package dev.tessera.agent.admin;

import dev.tessera.api.identity.SpiffeId;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * When the agent is ready ({@code :15021/healthz/ready}): every eBPF program is attached to the cgroup
 * (as the kernel reports it), the cluster state is synced, every local meshed identity holds a
 * certificate, the kernel accepted every local meshed pod into the enrolled map, and the controller and the
 * agent share a push-protocol version. A pure function, so the rule is tested on its own.
 */
public final class Readiness {

    private Readiness() {}

    /**
     * The unmet conditions; empty means ready.
     *
     * @param programs program name -> attached to the cgroup; {@code null} when the programs are not loaded yet
     * @param stateSynced whether a first complete state snapshot arrived
     * @param expected identities of the meshed pods on this node
     * @param held identities holding a certificate
     */
    public static List<String> unmet(Map<String, Boolean> programs, boolean stateSynced,
            Collection<SpiffeId> expected, Set<SpiffeId> held) {
        return unmet(programs, stateSynced, expected, held, Map.of());
    }

    /**
     * Like {@link #unmet(Map, boolean, Collection, Set)}, plus {@code uncaptured}: meshed pods the kernel
     * refused to enroll (pod key -> why), each an unmet condition.
     */
    public static List<String> unmet(Map<String, Boolean> programs, boolean stateSynced,
            Collection<SpiffeId> expected, Set<SpiffeId> held, Map<String, String> uncaptured) {
        return unmet(programs, stateSynced, expected, held, uncaptured, null);
    }

    /**
     * Like {@link #unmet(Map, boolean, Collection, Set, Map)}, plus {@code versionSkew}: why the controller
     * session was refused for its protocol version (null: no skew). The agent keeps its last state, but gets
     * no new one until the controller or the agent is upgraded, which is what the condition says.
     */
    public static List<String> unmet(Map<String, Boolean> programs, boolean stateSynced,
            Collection<SpiffeId> expected, Set<SpiffeId> held, Map<String, String> uncaptured, String versionSkew) {
        var unmet = new ArrayList<String>();
        if (versionSkew != null) {
            unmet.add("controller protocol version skew: " + versionSkew);
        }
        if (programs == null || programs.isEmpty()) {
            unmet.add("eBPF programs not attached");
        } else {
            programs.forEach((name, attached) -> {
                if (!attached) {
                    unmet.add("program " + name + " not attached to the cgroup");
                }
            });
        }
        if (!stateSynced) {
            unmet.add("cluster state not synced");
        }
        var missing = new TreeSet<String>();
        expected.stream().filter(id -> !held.contains(id)).forEach(id -> missing.add(id.toString()));
        if (!missing.isEmpty()) {
            unmet.add("certificates missing for " + missing);
        }
        if (!uncaptured.isEmpty()) {
            unmet.add("pods not captured " + new TreeSet<>(uncaptured.keySet()) + ": "
                    + uncaptured.values().iterator().next());
        }
        return unmet;
    }

    /**
     * The unmet condition of pods whose plaintext policy the kernel could not hold (pod key -> why): they
     * deny every plaintext connection (fail closed) until the rules fit.
     */
    public static String plaintextPolicyRefused(Map<String, String> refused) {
        return "plaintext policy not in the kernel for " + new TreeSet<>(refused.keySet()) + " (plaintext to them "
                + "is denied): " + refused.values().iterator().next();
    }
}
