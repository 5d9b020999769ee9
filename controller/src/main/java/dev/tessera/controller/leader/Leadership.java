package dev.tessera.controller.leader;

import static java.util.Objects.requireNonNull;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.extended.leaderelection.LeaderCallbacks;
import io.fabric8.kubernetes.client.extended.leaderelection.LeaderElectionConfigBuilder;
import io.fabric8.kubernetes.client.extended.leaderelection.resourcelock.LeaseLock;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Which replica performs the controller's writes (CA Secret creation, trust bundle ConfigMap, policy
 * status). Every replica watches and serves agents; only the leader writes. {@link #elect} runs fabric8
 * leader election on the Lease {@value #LEASE_NAME} in the controller namespace and releases the Lease on
 * {@link #close()}, so another replica takes over without waiting for it to expire; {@link #always()}
 * is a single replica that always leads (leader election disabled).
 *
 * <p>Callbacks run on the election's own thread: {@link #onChange} listeners must not block for long.
 */
public final class Leadership implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(Leadership.class);

    /** The Lease the replicas compete for. */
    public static final String LEASE_NAME = "tessera-controller-leader";
    /** Lease duration: how long a crashed leader blocks the others. */
    public static final Duration LEASE_DURATION = Duration.ofSeconds(15);
    /** The leader gives up when it could not renew for this long. */
    public static final Duration RENEW_DEADLINE = Duration.ofSeconds(10);
    /** How often candidates retry and the leader renews. */
    public static final Duration RETRY_PERIOD = Duration.ofSeconds(2);

    /**
     * Leader election timings.
     *
     * @param lease how long a Lease is valid without renewal (how long a crashed leader blocks the others)
     * @param renewDeadline the leader gives up when it could not renew for this long (shorter than lease)
     * @param retry how often candidates retry and the leader renews (shorter than renewDeadline)
     */
    public record Timings(Duration lease, Duration renewDeadline, Duration retry) {
        /** 15 s, 10 s, 2 s. */
        public static final Timings DEFAULT = new Timings(LEASE_DURATION, RENEW_DEADLINE, RETRY_PERIOD);

        public Timings {
            requireNonNull(lease, "lease");
            requireNonNull(renewDeadline, "renewDeadline");
            requireNonNull(retry, "retry");
            if (renewDeadline.compareTo(lease) >= 0 || retry.compareTo(renewDeadline) >= 0 || retry.isNegative()
                    || retry.isZero()) {
                throw new IllegalArgumentException("timings: " + lease + "/" + renewDeadline + "/" + retry
                        + " (expected: 0 < retry < renewDeadline < lease)");
            }
        }
    }

    private final List<Runnable> listeners = new CopyOnWriteArrayList<>();
    private final ExecutorService executor;
    private volatile boolean leader;
    private volatile String currentLeader = "";
    private CompletableFuture<?> election;

    private Leadership(boolean alwaysLeader) {
        this.leader = alwaysLeader;
        this.executor = alwaysLeader ? null : Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "tessera-leader-election");
            t.setDaemon(true);
            return t;
        });
    }

    /** A replica that always leads (no election). */
    public static Leadership always() {
        return new Leadership(true);
    }

    /** Starts leader election with the default timings. */
    public static Leadership elect(KubernetesClient client, String namespace, String identity) {
        return elect(client, namespace, identity, Timings.DEFAULT);
    }

    /**
     * Starts leader election on Lease {@code namespace/}{@value #LEASE_NAME}.
     *
     * @param identity this replica's holder identity (the pod name)
     */
    public static Leadership elect(KubernetesClient client, String namespace, String identity, Timings timings) {
        requireNonNull(client, "client");
        requireNonNull(namespace, "namespace");
        requireNonNull(identity, "identity");
        if (identity.isBlank()) {
            throw new IllegalArgumentException("identity: blank (expected: this replica's pod name)");
        }
        Leadership l = new Leadership(false);
        var config = new LeaderElectionConfigBuilder()
                .withName(LEASE_NAME)
                .withLock(new LeaseLock(namespace, LEASE_NAME, identity))
                .withLeaseDuration(timings.lease())
                .withRenewDeadline(timings.renewDeadline())
                .withRetryPeriod(timings.retry())
                .withReleaseOnCancel(true)
                .withLeaderCallbacks(new LeaderCallbacks(() -> l.set(true), () -> l.set(false), l::newLeader))
                .build();
        l.election = new io.fabric8.kubernetes.client.extended.leaderelection.LeaderElector(client, config, l.executor).start();
        l.election.whenComplete((v, e) -> {
            if (e != null && !(e instanceof java.util.concurrent.CancellationException)) {
                log.error("leader election stopped: {}", e.toString());
            }
            l.set(false);
        });
        return l;
    }

    private void set(boolean isLeader) {
        if (leader == isLeader) {
            return;
        }
        leader = isLeader;
        log.info(isLeader ? "became the leader: this replica performs the writes" : "no longer the leader: writes stop");
        for (Runnable r : listeners) {
            try {
                r.run();
            } catch (RuntimeException e) {
                log.warn("leadership listener failed: {}", e.toString());
            }
        }
    }

    private void newLeader(String identity) {
        currentLeader = identity == null ? "" : identity;
        log.info("leader is now {}", currentLeader);
    }

    /** Whether this replica leads now (writes must check it right before writing). */
    public boolean isLeader() {
        return leader;
    }

    /** The holder identity of the current leader as last observed ("" when unknown). */
    public String currentLeader() {
        return currentLeader;
    }

    /** Adds a listener called whenever {@link #isLeader()} changes. */
    public void onChange(Runnable listener) {
        listeners.add(requireNonNull(listener, "listener"));
    }

    /** Stops competing; a leader releases the Lease and stops writing. */
    @Override
    public void close() {
        if (election != null) {
            election.cancel(true);
        }
        leader = leader && election == null; // always-leader stays; an elected one stops
        if (executor != null) {
            executor.shutdownNow();
        }
    }
}
