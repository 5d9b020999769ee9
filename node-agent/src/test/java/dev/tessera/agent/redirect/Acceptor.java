package dev.tessera.agent.redirect;

import dev.tessera.api.netns.Netns;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Path;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/** A TCP listener created inside a network namespace, queueing the remote address of each accepted connection. */
final class Acceptor implements AutoCloseable {

    private final ServerSocket server;
    private final BlockingQueue<InetSocketAddress> accepted = new LinkedBlockingQueue<>();
    private final String name;
    private final Thread thread;

    Acceptor(String name, Path netns, InetSocketAddress bind) throws IOException {
        this.name = name;
        this.server = Netns.call(netns, () -> {
            ServerSocket s = new ServerSocket();
            s.setReuseAddress(true);
            s.bind(bind, 1024);
            return s;
        });
        thread = new Thread(this::run, "acceptor-" + name);
        thread.setDaemon(true);
        thread.start();
    }

    private void run() {
        while (!server.isClosed()) {
            try (Socket s = server.accept()) {
                accepted.add((InetSocketAddress) s.getRemoteSocketAddress());
            } catch (IOException e) {
                return; // closed
            }
        }
    }

    /** The next accepted connection's remote address; fails after 10 s. */
    InetSocketAddress next() throws InterruptedException {
        InetSocketAddress a = accepted.poll(10, TimeUnit.SECONDS);
        if (a == null) {
            throw new AssertionError("no connection arrived at " + name + " within 10 s");
        }
        return a;
    }

    /** Skips connections until the one from {@code client}; fails if none comes within 10 s. */
    InetSocketAddress awaitFrom(InetSocketAddress client) throws InterruptedException {
        while (true) {
            InetSocketAddress a = next();
            if (a.equals(client)) {
                return a;
            }
        }
    }

    boolean isEmpty() {
        return accepted.isEmpty();
    }

    /**
     * Closes the listener and waits until it is really gone. A thread blocked in accept() holds the kernel socket
     * until it leaves poll(): the JDK's close() only pre-closes the descriptor and signals it, so a connect right
     * after close() could still complete its handshake with the dying listener (seen as a "not refused" flake on a
     * busy machine).
     */
    @Override
    public void close() throws IOException {
        server.close();
        try {
            thread.join(5000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
