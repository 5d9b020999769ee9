package dev.tessera.controller.identity;

import static java.util.Objects.requireNonNull;

import java.security.PublicKey;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;

/**
 * The controller's trust roots and signer across a root rotation, as a small state machine. The trust
 * bundle it returns always lists the signer's roots first (agents read "the first root is the one
 * certificates are now issued under" from that order); a bundle change bumps {@link #generation()}.
 *
 * <pre>
 * STABLE      bundle = signer's roots                    begin(next)                        -> PUBLISHING
 * PUBLISHING  bundle = old roots + next's roots, old CA signs;  every agent holds this bundle -> RENEWING
 * RENEWING    bundle = next's roots + old roots, next signs;  no held certificate under an
 *             old issuer and the overlap has passed since the switch                          -> STABLE
 * </pre>
 *
 * Nothing here blocks or does I/O: {@link #advance} is given the facts (which bundle generation every
 * connected agent holds, how many held certificates an old issuer signed, the time) and says whether the
 * state moved. Thread-safe.
 */
public final class TrustRotation {

    /** Where a rotation stands. */
    public enum Phase {
        /** One signer, its roots trusted. */
        STABLE,
        /** A new root is published next to the old one; the old CA still signs. */
        PUBLISHING,
        /** The new CA signs; the old roots stay trusted until no held certificate chains to them. */
        RENEWING
    }

    /**
     * What {@link #advance} decides from.
     *
     * @param agentsHoldGeneration whether every connected agent acknowledged the bundle of the given generation
     * @param certificatesUnderOldIssuers certificates held by agents that an issuer other than the signer signed
     * @param now the time
     */
    public record Facts(java.util.function.LongPredicate agentsHoldGeneration, int certificatesUnderOldIssuers,
            Instant now) {
        public Facts {
            requireNonNull(agentsHoldGeneration, "agentsHoldGeneration");
            requireNonNull(now, "now");
        }
    }

    /**
     * A view for metrics and status.
     *
     * @param phase the phase
     * @param generation the bundle generation
     * @param bundle the trusted roots, the signer's first
     * @param signer the certificate that signs workload certificates now
     * @param overlap the overlap of the rotation under way (zero when stable)
     * @param switchedAt when the signer switched (null unless renewing)
     */
    public record Status(Phase phase, long generation, List<X509Certificate> bundle, X509Certificate signer,
            Duration overlap, Instant switchedAt) {}

    private IssuingCa signer;
    private IssuingCa next;
    private List<X509Certificate> retiring = List.of();
    private Duration overlap = Duration.ZERO;
    private Instant switchedAt;
    private Phase phase = Phase.STABLE;
    private long generation = 1;
    private List<X509Certificate> bundle;

    /** A rotation that starts stable on {@code ca}. */
    public TrustRotation(IssuingCa ca) {
        this.signer = requireNonNull(ca, "ca");
        this.bundle = ca.trustBundle();
    }

    /**
     * A rotation picked up after a restart: {@code ca} signs, and the roots of {@code previous} (the bundle
     * published before, e.g. the trust bundle ConfigMap) that {@code ca} does not hold stay trusted as in
     * {@link Phase#RENEWING}, switched at {@code now}, until no held certificate needs them and
     * {@code overlap} has passed. Stable on {@code ca} when {@code previous} adds no root.
     */
    public static TrustRotation resuming(IssuingCa ca, List<X509Certificate> previous, Duration overlap, Instant now) {
        requireNonNull(previous, "previous");
        requireNonNull(overlap, "overlap");
        requireNonNull(now, "now");
        TrustRotation r = new TrustRotation(ca);
        var old = new LinkedHashMap<PublicKey, X509Certificate>();
        previous.forEach(c -> old.putIfAbsent(c.getPublicKey(), c));
        ca.trustBundle().forEach(c -> old.remove(c.getPublicKey()));
        if (!old.isEmpty()) {
            r.retiring = List.copyOf(old.values());
            r.overlap = overlap;
            r.switchedAt = now;
            r.phase = Phase.RENEWING;
            r.bundle = List.copyOf(union(ca.trustBundle(), r.retiring));
        }
        return r;
    }

    /** The CA that signs workload and server certificates now. */
    public synchronized IssuingCa signer() {
        return signer;
    }

    /** Every trusted root, the signer's first. */
    public synchronized List<X509Certificate> bundle() {
        return bundle;
    }

    /** Bumped on every change of {@link #bundle()} (its content or order). */
    public synchronized long generation() {
        return generation;
    }

    public synchronized Phase phase() {
        return phase;
    }

    public synchronized Status status() {
        return new Status(phase, generation, bundle, signer.issuingCertificate(), overlap, switchedAt);
    }

    /**
     * Starts a rotation to {@code nextCa}: its roots join the bundle, the current CA keeps signing.
     *
     * @param overlap how long the old roots stay trusted at least after the switch (zero or more)
     * @return false (and nothing changes) when a rotation is under way or {@code nextCa} has the same roots
     */
    public synchronized boolean begin(IssuingCa nextCa, Duration overlap) {
        requireNonNull(nextCa, "nextCa");
        requireNonNull(overlap, "overlap");
        if (overlap.isNegative()) {
            throw new IllegalArgumentException("overlap: " + overlap + " (expected: zero or more)");
        }
        if (phase != Phase.STABLE || keys(nextCa.trustBundle()).equals(keys(signer.trustBundle()))) {
            return false;
        }
        this.next = nextCa;
        this.overlap = overlap;
        phase = Phase.PUBLISHING;
        setBundle(union(signer.trustBundle(), nextCa.trustBundle()));
        return true;
    }

    /**
     * Replaces the signer by {@code nextCa} at once when it has exactly the current roots but another issuing
     * certificate (an intermediate renewed under the same root): agents already trust it, so there is nothing
     * to publish first; the bundle changes at most in order.
     *
     * @return false (and nothing changes) when a rotation is under way, the roots differ or the issuer is the same
     */
    public synchronized boolean renewSigner(IssuingCa nextCa) {
        requireNonNull(nextCa, "nextCa");
        if (phase != Phase.STABLE || !keys(nextCa.trustBundle()).equals(keys(signer.trustBundle()))
                || nextCa.issuingCertificate().equals(signer.issuingCertificate())) {
            return false;
        }
        signer = nextCa;
        setBundle(nextCa.trustBundle());
        return true;
    }

    /** Moves the rotation on when {@code facts} allow; returns whether anything changed. */
    public synchronized boolean advance(Facts facts) {
        requireNonNull(facts, "facts");
        switch (phase) {
            case PUBLISHING -> {
                if (!facts.agentsHoldGeneration().test(generation)) {
                    return false;
                }
                var old = new LinkedHashMap<PublicKey, X509Certificate>();
                signer.trustBundle().forEach(r -> old.put(r.getPublicKey(), r));
                next.trustBundle().forEach(r -> old.remove(r.getPublicKey()));
                retiring = List.copyOf(old.values());
                signer = next;
                next = null;
                switchedAt = facts.now();
                phase = Phase.RENEWING;
                setBundle(union(signer.trustBundle(), retiring));
                return true;
            }
            case RENEWING -> {
                if (facts.certificatesUnderOldIssuers() > 0 || facts.now().isBefore(switchedAt.plus(overlap))) {
                    return false;
                }
                retiring = List.of();
                switchedAt = null;
                overlap = Duration.ZERO;
                phase = Phase.STABLE;
                setBundle(signer.trustBundle());
                return true;
            }
            default -> {
                return false;
            }
        }
    }

    private void setBundle(List<X509Certificate> roots) {
        if (!roots.equals(bundle)) {
            bundle = List.copyOf(roots);
            generation++;
        }
    }

    private static List<X509Certificate> union(List<X509Certificate> first, List<X509Certificate> then) {
        var all = new LinkedHashMap<PublicKey, X509Certificate>();
        first.forEach(r -> all.putIfAbsent(r.getPublicKey(), r));
        then.forEach(r -> all.putIfAbsent(r.getPublicKey(), r));
        return new ArrayList<>(all.values());
    }

    private static java.util.Set<PublicKey> keys(List<X509Certificate> roots) {
        var out = new java.util.HashSet<PublicKey>();
        roots.forEach(r -> out.add(r.getPublicKey()));
        return out;
    }
}
