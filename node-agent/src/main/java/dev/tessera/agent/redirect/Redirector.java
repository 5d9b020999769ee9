package dev.tessera.agent.redirect;

import java.util.Set;

/**
 * Kernel capture of meshed pods' TCP: enrollment of pods by network-namespace cookie and the lookup of
 * original destinations. Closing it releases the agent's handles but leaves programs, links and maps
 * pinned so capture survives an agent restart (fail closed); {@link #uninstall()} removes everything.
 */
public interface Redirector extends OriginalDestinations, AutoCloseable {

    /** Starts capturing the TCP connects of the network namespace with this cookie. Idempotent. */
    void enroll(long netnsCookie);

    /** Stops capturing that namespace: its new connections go direct again. Idempotent. */
    void unenroll(long netnsCookie);

    /** The cookies currently enrolled, read from the kernel map. */
    Set<Long> enrolled();

    /** Counters kept by the programs (redirected connects, original-destination records, misses). */
    RedirectStats stats();

    /** Detaches every program and removes every pin (uninstall). */
    void uninstall();

    @Override
    void close();

    /** Counters read from the kernel. */
    record RedirectStats(long redirected, long recorded, long lookups, long misses) {}
}
