package dev.tessera.agent.policy;

import dev.tessera.api.identity.SpiffeId;
import dev.tessera.api.model.Workload;
import io.netty.channel.Channel;
import java.net.InetSocketAddress;
import java.util.function.Consumer;

/**
 * The inbound policy stage: called on the destination node right before the agent connects to a local
 * pod (HBONE server, and same-node delivery of the outbound listener). Must be fast and non-blocking
 * (event-loop thread). The policy package owns it; the data path calls it (through
 * {@code connection.Admission}), so policy never depends on the data path's types.
 */
public interface InboundGate {

    /** A gate without policy (tests, and agents without policy): admits everything, decides nothing. */
    InboundGate OPEN = (connection, channel, onRevoke) -> null;

    /**
     * What is known of a connection about to reach a local pod.
     *
     * @param destinationWorkload the local workload, or null when none is known (denied)
     * @param destination the pod's address and port
     * @param sourceIdentity the verified source identity, or null (plaintext)
     * @param client the source address and port as this agent sees them
     */
    record Connection(Workload destinationWorkload, InetSocketAddress destination, SpiffeId sourceIdentity,
            InetSocketAddress client) {}

    /**
     * Decides on {@code connection}. An allowed connection is tracked until {@code channel} closes: if a
     * later policy denies it, {@code onRevoke} runs on the channel's event loop with the new decision, and
     * then the channel is reset and closed.
     *
     * @return the decision, or {@code null} when this gate takes none ({@link #OPEN})
     */
    Decision admit(Connection connection, Channel channel, Consumer<Decision> onRevoke);
}
