package dev.tessera.localcluster;

import static java.util.Objects.requireNonNull;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Watches a local cluster description (a file or a folder) and hands every valid new version to a
 * listener. It polls file names, sizes and modification times (every 300 ms by default) on a daemon
 * thread, which works with editors that replace files instead of writing them in place.
 *
 * <p>{@link #start()} loads synchronously, so a bad initial description fails at once. Afterwards an
 * invalid edit is logged once (per change) and the last good description stays in force.
 */
public final class LocalClusterWatcher implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(LocalClusterWatcher.class);

    /** The default poll interval. */
    public static final Duration DEFAULT_POLL = Duration.ofMillis(300);

    private final Path path;
    private final Duration poll;
    private final Consumer<ClusterDescription> listener;
    private final ScheduledExecutorService executor;
    private volatile ClusterDescription current;
    private volatile String lastError;
    private volatile List<Object> fingerprint;
    /** Parsed files between reloads: only the edited ones are parsed again (used on the watch thread). */
    private final ManifestReader.TreeCache cache = new ManifestReader.TreeCache();

    /** A watcher polling every {@link #DEFAULT_POLL}. */
    public LocalClusterWatcher(Path path, Consumer<ClusterDescription> listener) {
        this(path, DEFAULT_POLL, listener);
    }

    public LocalClusterWatcher(Path path, Duration poll, Consumer<ClusterDescription> listener) {
        this.path = requireNonNull(path, "path");
        this.poll = requireNonNull(poll, "poll");
        this.listener = requireNonNull(listener, "listener");
        if (poll.isNegative() || poll.isZero()) {
            throw new IllegalArgumentException("poll: " + poll + " (expected: a positive duration)");
        }
        this.executor = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "tessera-cluster-watch");
            t.setDaemon(true);
            return t;
        });
    }

    /**
     * Loads the description, hands it to the listener (on the calling thread) and starts polling.
     *
     * @throws IOException when the path cannot be read
     * @throws InvalidClusterException when the description is invalid
     */
    public ClusterDescription start() throws IOException {
        List<Object> fp = fingerprint();
        ClusterDescription first;
        synchronized (cache) {
            first = ClusterDescription.load(path, cache);
        }
        fingerprint = fp;
        current = first;
        listener.accept(first);
        long ms = poll.toMillis();
        executor.scheduleWithFixedDelay(this::check, ms, ms, TimeUnit.MILLISECONDS);
        return first;
    }

    /** The last valid description. */
    public ClusterDescription current() {
        return current;
    }

    /** The error of the latest change if it was rejected, or null when the latest change was applied. */
    public String lastError() {
        return lastError;
    }

    private void check() {
        List<Object> fp;
        try {
            fp = fingerprint();
        } catch (IOException e) {
            fp = List.of("unreadable", String.valueOf(e.getMessage())); // e.g. deleted: report once
        }
        if (Objects.equals(fp, fingerprint)) {
            return;
        }
        fingerprint = fp;
        try {
            ClusterDescription next;
            synchronized (cache) {
                next = ClusterDescription.load(path, cache);
            }
            current = next;
            lastError = null;
            log.info("{}: reloaded: {}", path, next);
        } catch (IOException | RuntimeException e) {
            lastError = e.getMessage();
            log.error("{}: change rejected, keeping the last good description: {}", path, e.getMessage());
            return;
        }
        try {
            listener.accept(current);
        } catch (RuntimeException e) {
            log.error("{}: listener failed on {}", path, current, e);
        }
    }

    /** Names, sizes and modification times of the manifest files: what changes when anything is edited. */
    private List<Object> fingerprint() throws IOException {
        var fp = new ArrayList<Object>();
        for (Path f : ManifestReader.files(path)) {
            fp.add(f.getFileName().toString());
            fp.add(Files.size(f));
            fp.add(Files.getLastModifiedTime(f));
        }
        return fp;
    }

    @Override
    public void close() {
        executor.shutdownNow();
    }
}
