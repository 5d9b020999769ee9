package dev.tessera.agent.netty;

import io.netty.channel.EventLoopGroup;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.ServerChannel;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import java.util.concurrent.TimeUnit;

/**
 * The event loops shared by every listener of the agent's data path: one group of worker threads that
 * accepts and runs every connection (a listening socket lives on one of them; there is no separate boss
 * thread, so an accept and the connection's first reads may run on the same thread without a hand-off).
 * Native epoll when available, NIO otherwise.
 */
public final class EventLoops implements AutoCloseable {

    private final EventLoopGroup worker;
    private final boolean epoll;

    private EventLoops(int workerThreads, boolean preferNative) {
        if (workerThreads < 0) {
            throw new IllegalArgumentException("workerThreads: " + workerThreads + " (expected: >= 0, 0 = one per core)");
        }
        this.epoll = preferNative && Epoll.isAvailable();
        IoHandlerFactory factory = epoll ? EpollIoHandler.newFactory() : NioIoHandler.newFactory();
        int threads = workerThreads == 0 ? Runtime.getRuntime().availableProcessors() : workerThreads;
        this.worker = new MultiThreadIoEventLoopGroup(threads, factory);
    }

    /** Event loops with {@code workerThreads} workers (0 = one per core), epoll when the platform has it. */
    /**
     * Worker threads of the agent's data path: one per CPU the process may use (its affinity or container
     * quota), at most 4 — a node proxy shares the node with the pods it serves.
     */
    public static int dataPathThreads() {
        return Math.max(1, Math.min(4, Runtime.getRuntime().availableProcessors()));
    }

    public static EventLoops create(int workerThreads) {
        return new EventLoops(workerThreads, true);
    }

    /** Event loops on plain NIO (for comparisons and platforms without epoll). */
    public static EventLoops nio(int workerThreads) {
        return new EventLoops(workerThreads, false);
    }

    /** The group listening sockets are registered with: the worker group itself. */
    public EventLoopGroup boss() {
        return worker;
    }

    public EventLoopGroup worker() {
        return worker;
    }

    /** True when the native epoll transport is in use. */
    public boolean nativeTransport() {
        return epoll;
    }

    public Class<? extends ServerChannel> serverChannelClass() {
        return epoll ? EpollServerSocketChannel.class : NioServerSocketChannel.class;
    }

    public Class<? extends SocketChannel> socketChannelClass() {
        return epoll ? EpollSocketChannel.class : NioSocketChannel.class;
    }

    /** Shuts the group down and waits (at most a few seconds) for its threads to end. */
    @Override
    public void close() {
        worker.shutdownGracefully(0, 2, TimeUnit.SECONDS);
        worker.terminationFuture().awaitUninterruptibly(5, TimeUnit.SECONDS);
    }

    @Override
    public String toString() {
        return "EventLoops{" + (epoll ? "epoll" : "nio") + "}";
    }
}
