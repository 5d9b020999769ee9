package dev.tessera.agent.proxy;

import static java.util.Objects.requireNonNull;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelOption;
import java.net.InetSocketAddress;

/**
 * What the agent's two TCP listeners (15001 and 15008) share: a server bootstrap that binds at start-up
 * but does not accept until {@link #acceptConnections}, so a port clash fails start-up while connections
 * arriving before the agent is ready wait in the listen backlog instead of being reset.
 */
public final class Listeners {

    /** Listen backlog: room for the connections that arrive while the agent starts. */
    public static final int BACKLOG = 4096;

    private Listeners() {}

    /** A server bootstrap on {@code loops}, not accepting until told, with TCP_NODELAY on accepted sockets. */
    public static ServerBootstrap paused(EventLoops loops) {
        requireNonNull(loops, "loops");
        return new ServerBootstrap()
                .group(loops.boss(), loops.worker())
                .channel(loops.serverChannelClass())
                .option(ChannelOption.AUTO_READ, false)
                .option(ChannelOption.SO_REUSEADDR, true)
                .option(ChannelOption.SO_BACKLOG, BACKLOG)
                .childOption(ChannelOption.TCP_NODELAY, true);
    }

    /**
     * Binds, or fails naming the listener and the address.
     *
     * @param what the listener's name for the message, e.g. "outbound proxy"
     */
    public static Channel bind(String what, ServerBootstrap bootstrap, InetSocketAddress address) {
        var f = bootstrap.bind(address).awaitUninterruptibly();
        if (!f.isSuccess()) {
            throw new IllegalStateException(what + ": cannot bind " + address.getAddress().getHostAddress() + ":"
                    + address.getPort() + " (port " + address.getPort() + "): " + f.cause().getMessage(), f.cause());
        }
        return f.channel();
    }

    /** Starts accepting on a listener bound by {@link #bind}. */
    public static void acceptConnections(String what, Channel server) {
        if (server == null) {
            throw new IllegalStateException(what + ": not started");
        }
        server.config().setAutoRead(true);
    }
}
