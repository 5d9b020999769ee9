package dev.tessera.agent.connection;

import dev.tessera.agent.policy.Decision;
import dev.tessera.agent.policy.InboundGate;
import io.netty.channel.Channel;

/** The data path's side of the inbound policy stage: asks the {@link InboundGate} about a session. */
public final class Admission {

    private Admission() {}

    /**
     * Decides on the connection of {@code session} (its context: source identity and address, destination
     * workload and port) and records the decision in the session's context. If a later policy revokes it,
     * the session fails with {@link CloseReason#POLICY_DENIED} and {@code channel} is reset.
     *
     * @return {@code null} when allowed, or the refusal detail
     */
    public static String admit(InboundGate gate, RelaySession session, Channel channel) {
        ConnectionContext c = session.context();
        Decision d = gate.admit(new InboundGate.Connection(c.destinationWorkload(), c.destination(), c.sourceIdentity(),
                c.client()), channel, revoked -> {
                    session.context(session.context().withAuthorization(revoked));
                    session.fail(CloseReason.POLICY_DENIED);
                });
        if (d == null) {
            return null;
        }
        session.context(session.context().withAuthorization(d));
        return d.allowed() ? null : d.toString();
    }
}
