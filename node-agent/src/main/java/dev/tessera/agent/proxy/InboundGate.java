package dev.tessera.agent.proxy;

import io.netty.channel.Channel;

/**
 * The inbound policy stage: called on the destination node right before the agent connects to a local
 * pod (HBONE server, and same-node delivery of the outbound listener). Must be fast and non-blocking
 * (event-loop thread).
 */
public interface InboundGate {

    /** A gate that lets everything through (tests, and agents without policy). */
    InboundGate OPEN = (session, channel) -> null;

    /**
     * Decides on the connection described by {@code session.context()} (source identity and address,
     * destination workload and port), records the decision in the session's context, and returns
     * {@code null} when it is allowed or the refusal detail when it is denied. An allowed connection is
     * tracked until {@code channel} closes: if a later policy denies it, the gate fails the session with
     * {@link CloseReason#POLICY_DENIED} and closes {@code channel}.
     */
    String admit(RelaySession session, Channel channel);
}
