package dev.tessera.controller.identity;

import static java.util.Objects.requireNonNull;

import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.LongPredicate;
import java.util.function.ToIntFunction;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Moves a {@link TrustRotation} along on a timer: starts a rotation when its {@link Requests} hold one,
 * then advances it from the facts the push server and the issuer know (which bundle every connected agent
 * answered for, how many held certificates an old issuer signed). Every change is handed to
 * {@code onChange} (the push server sends the bundle and re-issues its own certificate); a finished
 * rotation is handed back to the requests (local mode persists the new root as the cluster's root).
 */
public final class RotationDriver implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(RotationDriver.class);

    /** Default time the old roots stay trusted at least after the switch, when a request names none. */
    public static final Duration DEFAULT_OVERLAP = Duration.ofMinutes(5);

    /**
     * A rotation asked for.
     *
     * @param next the CA to rotate to
     * @param overlap how long the old roots stay trusted at least after the switch
     */
    public record Request(IssuingCa next, Duration overlap) {
        public Request {
            requireNonNull(next, "next");
            requireNonNull(overlap, "overlap");
        }
    }

    /** Where rotations come from (local mode: a new root in the CA directory). */
    public interface Requests {
        /** The rotation asked for, if any (asked again until it is started or done). */
        Optional<Request> poll();

        /** The rotation finished: the old roots left the bundle (or the signer was renewed under the same roots). */
        void completed(TrustRotation.Status status);

        /** Why the last input (a rotation request, a CA Secret) was rejected while it still applies, or null. */
        default String rejected() {
            return null;
        }

        /** Inputs rejected so far. */
        default long rejections() {
            return 0;
        }
    }

    private final TrustRotation trust;
    private final Requests requests;
    private final LongPredicate agentsHold;
    private final ToIntFunction<X509Certificate> heldUnderOtherIssuers;
    private final Runnable onChange;
    private ScheduledExecutorService timer;

    /**
     * @param trust the rotation state
     * @param requests where rotations come from
     * @param agentsHold whether every connected agent answered for a bundle generation
     * @param heldUnderOtherIssuers certificates held that an issuer other than the given one signed
     * @param onChange called after every change of the bundle or signer
     */
    public RotationDriver(TrustRotation trust, Requests requests, LongPredicate agentsHold,
            ToIntFunction<X509Certificate> heldUnderOtherIssuers, Runnable onChange) {
        this.trust = requireNonNull(trust, "trust");
        this.requests = requireNonNull(requests, "requests");
        this.agentsHold = requireNonNull(agentsHold, "agentsHold");
        this.heldUnderOtherIssuers = requireNonNull(heldUnderOtherIssuers, "heldUnderOtherIssuers");
        this.onChange = requireNonNull(onChange, "onChange");
    }

    /** Ticks every {@code every} on a daemon thread. */
    public synchronized RotationDriver start(Duration every) {
        timer = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "tessera-trust-rotation");
            t.setDaemon(true);
            return t;
        });
        timer.scheduleWithFixedDelay(() -> {
            try {
                tick(Instant.now());
            } catch (RuntimeException e) {
                log.warn("trust rotation step failed (retrying): {}", e.toString());
            }
        }, every.toMillis(), every.toMillis(), TimeUnit.MILLISECONDS);
        return this;
    }

    /** One step: start a requested rotation, or advance the one under way. */
    public void tick(Instant now) {
        if (trust.phase() == TrustRotation.Phase.STABLE) {
            Optional<Request> r = requests.poll();
            if (r.isPresent() && trust.renewSigner(r.get().next())) {
                log.info("issuing CA renewed under the same root(s): now signing under {}",
                        r.get().next().issuingCertificate().getSubjectX500Principal().getName());
                onChange.run();
                requests.completed(trust.status());
            } else if (r.isPresent() && trust.begin(r.get().next(), r.get().overlap())) {
                log.info("root rotation: publishing {} next to the current root(s); {} root(s) trusted",
                        r.get().next().trustBundle().get(0).getSubjectX500Principal().getName(), trust.bundle().size());
                onChange.run();
            }
            return;
        }
        int old = heldUnderOtherIssuers.applyAsInt(trust.signer().issuingCertificate());
        if (!trust.advance(new TrustRotation.Facts(agentsHold, old, now))) {
            return;
        }
        onChange.run();
        TrustRotation.Status s = trust.status();
        if (s.phase() == TrustRotation.Phase.RENEWING) {
            log.info("root rotation: every agent holds the new bundle; now signing under {}; old root(s) stay"
                    + " trusted until no certificate under them is held and {} have passed",
                    s.signer().getSubjectX500Principal().getName(), s.overlap());
        } else {
            log.info("root rotation done: {} root(s) trusted", s.bundle().size());
            requests.completed(s);
        }
    }

    @Override
    public synchronized void close() {
        if (timer != null) {
            timer.shutdownNow();
        }
    }
}
