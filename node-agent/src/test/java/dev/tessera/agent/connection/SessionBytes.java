package dev.tessera.agent.connection;

/** Test access to a {@link RelaySession}'s byte accounting (what the relay does on each read). */
public final class SessionBytes {

    private SessionBytes() {}

    public static void relay(RelaySession s, long fromSource, long toSource) {
        s.addFromSource(fromSource);
        s.addToSource(toSource);
    }
}
