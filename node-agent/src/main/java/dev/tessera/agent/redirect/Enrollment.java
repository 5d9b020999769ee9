package dev.tessera.agent.redirect;

import static java.util.Objects.requireNonNull;

import dev.tessera.api.model.MeshSnapshot;
import dev.tessera.api.model.Workload;
import dev.tessera.api.netns.Netns;
import java.io.IOException;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps the kernel's enrolled-pods map equal to the meshed pods of this node: enrolls new ones and
 * unenrolls pods that left the mesh (namespace label removed, pod opted out, pod gone) — no pod
 * restart either way. After an agent restart it adopts what the pinned map already holds and removes
 * only what is no longer expected.
 */
public final class Enrollment {

    private static final Logger log = LoggerFactory.getLogger(Enrollment.class);

    private final String nodeName;
    private final Redirector redirector;
    private final PodNetnsResolver resolver;
    private final PodTuning tuning;
    /** Netns cookies of the enrolled pods {@link #tuning} was applied to (or failed for: it is not retried). */
    private final Set<Long> tuned = new HashSet<>();
    private boolean tuningFailed;
    /** pod key -> netns cookie, for pods this agent enrolled or adopted. */
    private final Map<String, Long> enrolled = new HashMap<>();
    private volatile Map<String, String> lastRefusal = Map.of();
    private volatile Set<String> captured = Set.of();

    /** {@code tuning} is applied once per enrolled pod and agent (also to pods adopted after a restart). */
    public Enrollment(String nodeName, Redirector redirector, PodNetnsResolver resolver, PodTuning tuning) {
        this.nodeName = requireNonNull(nodeName, "nodeName");
        this.redirector = requireNonNull(redirector, "redirector");
        this.resolver = requireNonNull(resolver, "resolver");
        this.tuning = requireNonNull(tuning, "tuning");
    }

    /** Reconciles the kernel map with {@code snapshot}. Safe to call for every snapshot. */
    public synchronized void reconcile(MeshSnapshot snapshot) {
        Map<Long, String> expected = new HashMap<>();
        Map<Long, Path> netnsOf = new HashMap<>();
        for (Workload w : snapshot.workloadsOnNode(nodeName)) {
            if (!w.meshed()) {
                continue;
            }
            Optional<Path> netns = resolver.netnsOf(w);
            if (netns.isEmpty()) {
                log.warn("pod {} is meshed but has no network namespace on this node yet", w.key());
                continue;
            }
            try {
                long cookie = Netns.cookie(netns.get());
                expected.put(cookie, w.key());
                netnsOf.put(cookie, netns.get());
            } catch (IOException | RuntimeException e) {
                log.warn("pod {}: cannot read the cookie of {}: {}", w.key(), netns.get(), e.getMessage());
            }
        }
        Set<Long> inKernel = redirector.enrolled();
        for (Long cookie : inKernel) {
            if (!expected.containsKey(cookie)) {
                redirector.unenroll(cookie);
                log.info("unenrolled netns cookie {} ({})", cookie, keyOf(cookie));
            }
        }
        enrolled.clear();
        var refused = new java.util.TreeMap<String, String>();
        for (var e : expected.entrySet()) {
            if (!inKernel.contains(e.getKey())) {
                try {
                    redirector.enroll(e.getKey());
                } catch (RuntimeException full) { // e.g. E2BIG: the enrolled map holds its maximum of pods
                    refused.put(e.getValue(), String.valueOf(full.getMessage()));
                    if (!lastRefusal.containsKey(e.getValue())) { // once per pod, not every reconcile
                        log.error("pod {} cannot be captured (it stays out of the mesh; readiness fails): {}",
                                e.getValue(), full.getMessage());
                    }
                    continue;
                }
                log.info("enrolled pod {} (netns cookie {})", e.getValue(), e.getKey());
            }
            enrolled.put(e.getValue(), e.getKey());
            if (tuned.add(e.getKey())) {
                try {
                    tuning.apply(e.getValue(), netnsOf.get(e.getKey()));
                } catch (IOException | RuntimeException failed) {
                    // once at WARN: where /proc/sys is read-only (a container's default) it fails for every pod
                    boolean first = !tuningFailed;
                    tuningFailed = true;
                    String msg = "pod {}: cannot set net.ipv4.tcp_tw_reuse in its network namespace {} (it keeps the"
                            + " kernel's default; short connections that it closes first may exhaust its ports): {}";
                    if (first) {
                        log.warn(msg, e.getValue(), netnsOf.get(e.getKey()), failed.toString());
                    } else {
                        log.debug(msg, e.getValue(), netnsOf.get(e.getKey()), failed.toString());
                    }
                }
            }
        }
        tuned.retainAll(expected.keySet());
        lastRefusal = Map.copyOf(refused);
        captured = Set.copyOf(new HashSet<>(enrolled.keySet()));
    }

    /**
     * Meshed pods of this node the kernel refused to enroll at the last reconcile (pod key -> why): never
     * silent, they fail readiness and show as a {@code tessera_mesh_pods} gap.
     */
    public Map<String, String> refused() {
        return lastRefusal;
    }

    private String keyOf(long cookie) {
        return enrolled.entrySet().stream().filter(e -> e.getValue() == cookie).map(Map.Entry::getKey)
                .findFirst().orElse("unknown pod");
    }

    /** Keys ({@code namespace/name}) of the pods currently captured. */
    public Set<String> captured() {
        return captured;
    }
}
