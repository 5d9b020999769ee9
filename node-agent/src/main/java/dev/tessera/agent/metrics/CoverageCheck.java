package dev.tessera.agent.metrics;

import static java.util.Objects.requireNonNull;

import dev.tessera.api.model.Workload;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Mesh coverage proven against the kernel and the certificates, not remembered from enrollment: for each
 * pod that should be meshed on this node, is its network namespace's cookie in the eBPF enrolled map
 * right now, and does its identity hold a certificate valid right now? Run every few seconds. A pod found
 * missing from the kernel map (map cleared, agent raced a CNI, node rebooted under a pinned map) triggers
 * the repair (re-enrollment) once per check and is counted.
 */
public final class CoverageCheck {

    private static final Logger log = LoggerFactory.getLogger(CoverageCheck.class);

    /** What the check reads; each call reads the live source (kernel map, certificate store). */
    public interface Inputs {
        /** Pods that should be meshed on this node. */
        List<Workload> expected();

        /** The netns cookie of a pod's network namespace, if it has one on this node. */
        Optional<Long> netnsCookie(Workload pod);

        /** The cookies in the kernel's enrolled map. */
        Set<Long> enrolledCookies();

        /** The leaf certificate held for the pod's identity. */
        Optional<X509Certificate> certificate(Workload pod);
    }

    /**
     * One check's outcome.
     *
     * @param uncaptured pods ({@code namespace/name}) expected but not in the kernel map
     * @param uncertified pods whose identity holds no currently valid certificate
     */
    public record Result(int expected, int captured, int certified, List<String> uncaptured,
            List<String> uncertified, Instant checkedAt) {
        /** {@code expected - min(captured, certified)}: pods not fully covered (alert on > 0). */
        public int gap() {
            return expected - Math.min(captured, certified);
        }
    }

    private final Inputs inputs;
    private final Clock clock;
    private final Runnable repair;
    private final AtomicLong repairs = new AtomicLong();
    private volatile Result last;

    /**
     * @param repair re-enrolls the expected pods (called when a check finds one missing from the map)
     */
    public CoverageCheck(Inputs inputs, Clock clock, Runnable repair) {
        this.inputs = requireNonNull(inputs, "inputs");
        this.clock = requireNonNull(clock, "clock");
        this.repair = requireNonNull(repair, "repair");
    }

    /** Runs one check (and the repair if needed); the result is also kept for {@link #last()}. */
    public Result run() {
        Instant now = clock.instant();
        List<Workload> expected = inputs.expected();
        Set<Long> inKernel = inputs.enrolledCookies();
        List<String> uncaptured = new ArrayList<>();
        List<String> uncertified = new ArrayList<>();
        for (Workload w : expected) {
            Optional<Long> cookie = inputs.netnsCookie(w);
            if (cookie.isEmpty() || !inKernel.contains(cookie.get())) {
                uncaptured.add(w.key());
            }
            Optional<X509Certificate> cert = inputs.certificate(w);
            if (cert.isEmpty() || now.isBefore(cert.get().getNotBefore().toInstant())
                    || !now.isBefore(cert.get().getNotAfter().toInstant())) {
                uncertified.add(w.key());
            }
        }
        Result r = new Result(expected.size(), expected.size() - uncaptured.size(),
                expected.size() - uncertified.size(), List.copyOf(uncaptured), List.copyOf(uncertified), now);
        Result previous = last;
        last = r;
        if (!uncaptured.isEmpty()) {
            if (previous == null || !previous.uncaptured().equals(r.uncaptured())) {
                log.warn("coverage: {} meshed pod(s) not captured by the kernel map: {}; re-enrolling",
                        uncaptured.size(), uncaptured);
            }
            repairs.addAndGet(uncaptured.size());
            try {
                repair.run();
            } catch (RuntimeException e) {
                log.warn("coverage: re-enrollment failed: {}", e.toString());
            }
        }
        if (!uncertified.isEmpty() && (previous == null || !previous.uncertified().equals(r.uncertified()))) {
            log.warn("coverage: {} meshed pod(s) without a valid certificate: {}", uncertified.size(), uncertified);
        }
        return r;
    }

    /** The latest result, or {@code null} before the first check. */
    public Result last() {
        return last;
    }

    /** Pods found missing from the kernel map so far (each check counts each missing pod once). */
    public long repairs() {
        return repairs.get();
    }
}
