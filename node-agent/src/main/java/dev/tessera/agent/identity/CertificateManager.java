package dev.tessera.agent.identity;

import static java.util.Objects.requireNonNull;

import dev.tessera.agent.state.StateStore;
import dev.tessera.api.identity.CertificateAuthority;
import dev.tessera.api.identity.SpiffeId;
import dev.tessera.api.model.MeshSnapshot;
import dev.tessera.api.model.Workload;
import java.security.KeyPair;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Holds the certificates of the identities of meshed pods on this node, and only those. For each such
 * identity it generates an ECDSA P-256 key here, sends a CSR to a {@link CertificateSigner}, checks the
 * answer ({@link IssuedChains}) and renews at about half the remaining lifetime (with jitter so nodes do
 * not renew in step). Failures are retried with exponential backoff and jitter; the previous certificate
 * stays in use until a new one arrives (and while it is valid). Identities that leave the node are dropped.
 *
 * <p>All state changes run on one daemon thread; {@link #certificate} and the queries never block.
 */
public final class CertificateManager implements IdentityProvider, AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(CertificateManager.class);

    /** Renew after 40-50% of the remaining lifetime. */
    private static final double RENEW_FRACTION = 0.5;
    private static final double RENEW_JITTER = 0.1;

    private final String nodeName;
    private final CertificateSigner signer;
    private final Duration retryInitial;
    private final Duration retryMax;
    private final Duration signTimeout;
    private final ScheduledExecutorService executor;
    private final Map<SpiffeId, Entry> entries = new ConcurrentHashMap<>();
    private final List<Consumer<SpiffeId>> listeners = new CopyOnWriteArrayList<>();
    private final Object monitor = new Object();
    private final AtomicLong issued = new AtomicLong();
    private final AtomicLong failed = new AtomicLong();
    private volatile Set<SpiffeId> expected = Set.of();
    private volatile Duration rotationWindow = DEFAULT_ROTATION_WINDOW;
    private final AtomicLong rotationRenewals = new AtomicLong();

    /** Default window over which certificates are re-issued, at random, after the signing root changed. */
    public static final Duration DEFAULT_ROTATION_WINDOW = Duration.ofSeconds(60);

    /** One identity's state; fields other than {@code current} are touched only on the executor. */
    private static final class Entry {
        final SpiffeId id;
        volatile CertifiedKey current;
        ScheduledFuture<?> timer;
        int failures;
        long attempt;

        Entry(SpiffeId id) {
            this.id = id;
        }
    }

    /** A manager with the default retry policy (1 s doubling up to 5 min) and a 30 s signing timeout. */
    public CertificateManager(String nodeName, CertificateSigner signer) {
        this(nodeName, signer, Duration.ofSeconds(1), Duration.ofMinutes(5), Duration.ofSeconds(30));
    }

    /**
     * @param nodeName this node: only identities of meshed pods scheduled here get certificates
     * @param signer signs CSRs
     * @param retryInitial first retry delay after a failure; doubles per failure
     * @param retryMax longest retry delay
     * @param signTimeout a signing request not answered within this time counts as failed
     */
    public CertificateManager(String nodeName, CertificateSigner signer, Duration retryInitial, Duration retryMax,
            Duration signTimeout) {
        this.nodeName = requireNonNull(nodeName, "nodeName");
        this.signer = requireNonNull(signer, "signer");
        this.retryInitial = positive("retryInitial", retryInitial);
        this.retryMax = positive("retryMax", retryMax);
        this.signTimeout = positive("signTimeout", signTimeout);
        this.executor = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "tessera-certificates");
            t.setDaemon(true);
            return t;
        });
    }

    private static Duration positive(String name, Duration d) {
        requireNonNull(d, name);
        if (d.isNegative() || d.isZero()) {
            throw new IllegalArgumentException(name + ": " + d + " (expected: a positive duration)");
        }
        return d;
    }

    /** Follows a state store: applies its current snapshot now and every later one. */
    public void attach(StateStore store) {
        store.addListener(this::update);
        update(store.current());
    }

    /** Sets the wanted identities from a snapshot: meshed workloads on this node. Returns at once. */
    public void update(MeshSnapshot snapshot) {
        Set<SpiffeId> wanted = snapshot.workloadsOnNode(nodeName).stream().filter(Workload::meshed)
                .map(Workload::identity).collect(Collectors.toUnmodifiableSet());
        expected = wanted;
        signal();
        if (!executor.isShutdown()) {
            executor.execute(() -> reconcile(wanted));
        }
    }

    private void reconcile(Set<SpiffeId> wanted) {
        if (!wanted.equals(expected)) {
            return; // a newer update is queued behind this one
        }
        for (Entry e : List.copyOf(entries.values())) {
            if (!wanted.contains(e.id)) {
                entries.remove(e.id);
                if (e.timer != null) {
                    e.timer.cancel(false);
                }
                log.info("{}: no longer on node {}, certificate dropped", e.id, nodeName);
                notifyListeners(e.id);
            }
        }
        for (SpiffeId id : wanted) {
            if (!entries.containsKey(id)) {
                Entry e = new Entry(id);
                entries.put(id, e);
                issue(e);
            }
        }
    }

    private void issue(Entry e) {
        if (entries.get(e.id) != e) {
            return;
        }
        long attempt = ++e.attempt;
        KeyPair keyPair = CertificateAuthority.newKeyPair();
        CompletableFuture<List<X509Certificate>> answer;
        try {
            answer = requireNonNull(signer.sign(CertificateAuthority.csr(keyPair, e.id), e.id), "signer answer")
                    .copy().orTimeout(signTimeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (RuntimeException ex) {
            answer = CompletableFuture.failedFuture(ex);
        }
        answer.whenCompleteAsync((chain, error) -> onAnswer(e, attempt, keyPair, chain, error), executor);
    }

    private void onAnswer(Entry e, long attempt, KeyPair keyPair, List<X509Certificate> chain, Throwable error) {
        if (entries.get(e.id) != e || e.attempt != attempt) {
            return; // dropped, or superseded
        }
        CertifiedKey key = null;
        if (error == null) {
            try {
                key = IssuedChains.check(e.id, keyPair, chain, signer.trustBundle());
            } catch (RuntimeException ex) {
                error = ex;
            }
        }
        if (key == null) {
            e.failures++;
            failed.incrementAndGet();
            Duration delay = backoff(e.failures);
            Throwable cause = error instanceof java.util.concurrent.CompletionException && error.getCause() != null
                    ? error.getCause() : error;
            log.warn("{}: certificate request failed ({} in a row), retrying in {} ms{}: {}", e.id, e.failures,
                    delay.toMillis(), e.current != null ? " (keeping the current certificate)" : "", String.valueOf(cause));
            e.timer = executor.schedule(() -> issue(e), delay.toMillis(), TimeUnit.MILLISECONDS);
            return;
        }
        e.current = key;
        e.failures = 0;
        issued.incrementAndGet();
        Duration renewIn = renewDelay(key.leaf());
        List<X509Certificate> bundle = signer.trustBundle();
        if (!bundle.isEmpty() && !chainsTo(key.chain(), bundle.get(0))) {
            // signed just before the signing root changed: re-issue within the rotation window
            renewIn = Duration.ofMillis(Math.min(renewIn.toMillis(),
                    ThreadLocalRandom.current().nextLong(rotationWindow.toMillis() + 1)));
            rotationRenewals.incrementAndGet();
        }
        log.info("{}: certificate issued, serial {}, valid until {}, renewal in {} s", e.id,
                key.leaf().getSerialNumber().toString(16), key.leaf().getNotAfter().toInstant(), renewIn.toSeconds());
        e.timer = executor.schedule(() -> issue(e), renewIn.toMillis(), TimeUnit.MILLISECONDS);
        notifyListeners(e.id);
    }

    private Duration renewDelay(X509Certificate leaf) {
        long remaining = Duration.between(Instant.now(), leaf.getNotAfter().toInstant()).toMillis();
        double fraction = RENEW_FRACTION - RENEW_JITTER * ThreadLocalRandom.current().nextDouble();
        return Duration.ofMillis(Math.max(retryInitial.toMillis(), (long) (remaining * fraction)));
    }

    /** Exponential backoff with "equal jitter": half the step fixed, half random. */
    private Duration backoff(int failures) {
        long step = retryInitial.toMillis() << Math.min(failures - 1, 30);
        step = Math.min(step <= 0 ? Long.MAX_VALUE : step, retryMax.toMillis());
        return Duration.ofMillis(step / 2 + ThreadLocalRandom.current().nextLong(step / 2 + 1));
    }

    private void notifyListeners(SpiffeId id) {
        for (Consumer<SpiffeId> l : listeners) {
            try {
                l.accept(id);
            } catch (RuntimeException ex) {
                log.error("certificate listener failed for {}", id, ex);
            }
        }
        signal();
    }

    private void signal() {
        synchronized (monitor) {
            monitor.notifyAll();
        }
    }

    /** The current certificate of a local identity; empty when none is held or it has expired. */
    @Override
    public Optional<CertifiedKey> certificate(SpiffeId id) {
        Entry e = entries.get(id);
        CertifiedKey key = e == null ? null : e.current;
        if (key == null || key.leaf().getNotAfter().toInstant().isBefore(Instant.now())) {
            return Optional.empty();
        }
        return Optional.of(key);
    }

    @Override
    public List<X509Certificate> trustBundle() {
        return signer.trustBundle();
    }

    /** The identities this node should hold certificates for (meshed pods scheduled here). */
    public Set<SpiffeId> expected() {
        return expected;
    }

    /** The valid certificates held now, by identity. */
    public Map<SpiffeId, CertifiedKey> certificates() {
        var out = new HashMap<SpiffeId, CertifiedKey>();
        for (SpiffeId id : entries.keySet()) {
            certificate(id).ifPresent(k -> out.put(id, k));
        }
        return Map.copyOf(out);
    }

    /** Whether every expected identity has a valid certificate (readiness: "certificates present"). */
    public boolean hasAll() {
        return expected.stream().allMatch(id -> certificate(id).isPresent());
    }

    /** Waits until {@link #hasAll()} or the timeout; returns whether all are present. */
    public boolean awaitAll(Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        synchronized (monitor) {
            while (!hasAll()) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    return false;
                }
                TimeUnit.NANOSECONDS.timedWait(monitor, Math.min(left, TimeUnit.MILLISECONDS.toNanos(200)));
            }
            return true;
        }
    }

    /**
     * Sets the window over which held certificates are re-issued, each at a random moment, when the signing
     * root changes ({@link #trustBundleChanged}); spreads a rotation's CSRs over the whole window.
     */
    public CertificateManager rotationWindow(Duration window) {
        this.rotationWindow = positive("rotationWindow", window);
        return this;
    }

    /**
     * A new trust bundle from the controller. Its first root is the one certificates are issued under now
     * (the controller's convention during a root rotation); every held certificate that does not chain to it
     * is re-issued at a random moment within the rotation window (the current one stays in use meanwhile).
     * Returns at once.
     */
    public void trustBundleChanged(List<X509Certificate> bundle) {
        if (bundle.isEmpty() || executor.isShutdown()) {
            return;
        }
        X509Certificate signing = bundle.get(0);
        executor.execute(() -> {
            for (Entry e : entries.values()) {
                CertifiedKey k = e.current;
                if (k == null || chainsTo(k.chain(), signing)) {
                    continue;
                }
                long delay = ThreadLocalRandom.current().nextLong(rotationWindow.toMillis() + 1);
                if (e.timer != null) {
                    e.timer.cancel(false);
                }
                rotationRenewals.incrementAndGet();
                log.info("{}: certificate issued under a root that no longer signs; re-issuing in {} ms", e.id, delay);
                e.timer = executor.schedule(() -> issue(e), delay, TimeUnit.MILLISECONDS);
            }
        });
    }

    /** Whether the last certificate of {@code chain} is {@code root} or signed by it. */
    public static boolean chainsTo(List<X509Certificate> chain, X509Certificate root) {
        X509Certificate top = chain.get(chain.size() - 1);
        if (top.equals(root)) {
            return true;
        }
        if (!top.getIssuerX500Principal().equals(root.getSubjectX500Principal())) {
            return false;
        }
        try {
            top.verify(root.getPublicKey());
            return true;
        } catch (java.security.GeneralSecurityException ex) {
            return false;
        }
    }

    /** The root of {@code bundle} that {@code chain} leads to, or null. */
    public static X509Certificate rootOf(List<X509Certificate> chain, List<X509Certificate> bundle) {
        for (X509Certificate r : bundle) {
            if (chainsTo(chain, r)) {
                return r;
            }
        }
        return null;
    }

    /** A short, stable name of a root: the first 16 hex digits of the SHA-256 of its encoding. */
    public static String fingerprint(X509Certificate root) {
        try {
            byte[] d = java.security.MessageDigest.getInstance("SHA-256").digest(root.getEncoded());
            return java.util.HexFormat.of().formatHex(d, 0, 8);
        } catch (java.security.GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * The valid certificates held, counted by the root of the trust bundle they chain to ({@link #fingerprint},
     * or "unknown"), each with whether that root is the signing one (the bundle's first).
     */
    public Map<String, Map.Entry<Boolean, Long>> byRoot() {
        List<X509Certificate> bundle = trustBundle();
        var out = new java.util.TreeMap<String, Map.Entry<Boolean, Long>>();
        for (X509Certificate r : bundle) {
            out.put(fingerprint(r), Map.entry(r == bundle.get(0), 0L));
        }
        for (CertifiedKey k : certificates().values()) {
            X509Certificate r = rootOf(k.chain(), bundle);
            String name = r == null ? "unknown" : fingerprint(r);
            out.merge(name, Map.entry(r != null && r == bundle.get(0), 1L),
                    (a, b) -> Map.entry(a.getKey(), a.getValue() + b.getValue()));
        }
        return out;
    }

    /** Certificates scheduled for re-issue because the signing root changed, so far. */
    public long rotationRenewalsTotal() {
        return rotationRenewals.get();
    }

    /** Called (on the manager's thread) after an identity's certificate was issued, renewed or dropped. */
    public void addListener(Consumer<SpiffeId> listener) {
        listeners.add(requireNonNull(listener, "listener"));
    }

    /** Certificates issued so far (first issuance and renewals). */
    public long issuedTotal() {
        return issued.get();
    }

    /** Failed signing attempts so far. */
    public long failedTotal() {
        return failed.get();
    }

    /** Stops renewing; certificates already handed out stay usable until they expire. */
    @Override
    public void close() {
        executor.shutdownNow();
    }
}
