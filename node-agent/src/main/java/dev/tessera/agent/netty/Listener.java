package dev.tessera.agent.netty;

import static java.util.Objects.requireNonNull;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import java.net.InetSocketAddress;

/**
 * The life of one of the agent's TCP listeners (15001 or 15008): bound (or adopted from the previous agent)
 * at start-up without accepting, accepting once the agent is ready, its descriptor handed to the next
 * agent, closed when the agent stops accepting. The listeners differ only in their bootstrap.
 */
public final class Listener {

    private final String what;
    private Channel server;

    /** @param what the listener's name in messages, e.g. "outbound proxy" */
    public Listener(String what) {
        this.what = requireNonNull(what, "what");
    }

    /**
     * Binds {@code address} with {@code bootstrap} (see {@link Listeners#paused}), or adopts {@code adoptedFd}
     * when it is not negative: a listening socket on that address handed over by the previous agent.
     *
     * @throws IllegalStateException naming the listener and the address when it cannot be bound or adopted
     */
    public synchronized Channel start(ServerBootstrap bootstrap, InetSocketAddress address, int adoptedFd) {
        if (server != null) {
            throw new IllegalStateException(what + ": already started on " + server.localAddress());
        }
        server = adoptedFd >= 0 ? Listeners.adopt(what, bootstrap, adoptedFd, address)
                : Listeners.bind(what, bootstrap, address);
        return server;
    }

    /** Starts accepting (connections wait in the listen backlog until then). */
    public synchronized void acceptConnections() {
        Listeners.acceptConnections(what, server);
    }

    /** The listening socket's descriptor, for a handoff to the next agent (epoll only). */
    public synchronized int fd() {
        return Listeners.fd(what, server);
    }

    /** The bound address, or null before {@link #start}. */
    public synchronized InetSocketAddress localAddress() {
        return server == null ? null : (InetSocketAddress) server.localAddress();
    }

    /** Stops accepting: closes this process's listening socket (open connections are not touched). */
    public synchronized void close() {
        if (server != null) {
            server.close().awaitUninterruptibly();
        }
    }
}
