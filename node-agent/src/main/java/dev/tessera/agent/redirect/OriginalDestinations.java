package dev.tessera.agent.redirect;

import java.net.InetSocketAddress;
import java.util.Optional;

/** Where captured connections were going before cgroup/connect4 (or connect6) rewrote them to the agent. */
public interface OriginalDestinations {

    /**
     * Looks up, and removes, the original destination of a connection accepted on the outbound port.
     *
     * @param client the accepted connection's remote address (the pod's IP, IPv4 or IPv6, and ephemeral port)
     * @return the destination the application connected to, or empty when the kernel recorded none
     *     (a miss: the connection must be closed, never guessed)
     */
    Optional<InetSocketAddress> take(InetSocketAddress client);
}
