package dev.tessera.tests.harness;

import dev.tessera.api.netns.Netns;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Path;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A TCP server bound to a pod's IP inside the pod's network namespace; a thread per accepted connection
 * runs the handler. Counts accepted connections (to prove whether traffic arrived).
 */
public final class PodServer implements AutoCloseable {

    /** What to do with one accepted connection; the socket is closed afterwards. */
    @FunctionalInterface
    public interface Handler {
        void handle(Socket socket) throws IOException;
    }

    private final ServerSocket socket;
    private final ExecutorService workers = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "pod-server");
        t.setDaemon(true);
        return t;
    });
    private final Set<Socket> open = ConcurrentHashMap.newKeySet();
    private final AtomicInteger accepted = new AtomicInteger();
    private final Handler handler;

    private PodServer(ServerSocket socket, Handler handler) {
        this.socket = socket;
        this.handler = handler;
        Thread t = new Thread(this::acceptLoop, "pod-server-accept");
        t.setDaemon(true);
        t.start();
    }

    static PodServer start(Path netns, String ip, int port, Handler handler) throws IOException {
        ServerSocket s = Netns.call(netns, () -> {
            var ss = new ServerSocket();
            ss.setReuseAddress(true);
            ss.bind(new InetSocketAddress(ip, port), 2048);
            return ss;
        });
        return new PodServer(s, handler);
    }

    private void acceptLoop() {
        while (!socket.isClosed()) {
            try {
                Socket c = socket.accept();
                accepted.incrementAndGet();
                open.add(c);
                workers.execute(() -> {
                    try (c) {
                        handler.handle(c);
                    } catch (IOException e) {
                        // the peer went away; the test on the other side reports what it saw
                    } finally {
                        open.remove(c);
                    }
                });
            } catch (IOException e) {
                return;
            }
        }
    }

    /** Connections accepted so far. */
    public int accepted() {
        return accepted.get();
    }

    public int port() {
        return socket.getLocalPort();
    }

    @Override
    public void close() throws IOException {
        socket.close();
        for (Socket s : open) {
            s.close();
        }
        workers.shutdownNow();
    }

    /** Replies to each line with {@code "<tag> <line>"}. */
    public static Handler lineEcho(String tag) {
        return s -> {
            var in = new java.io.BufferedReader(new java.io.InputStreamReader(s.getInputStream(), java.nio.charset.StandardCharsets.UTF_8));
            var out = s.getOutputStream();
            String line;
            while ((line = in.readLine()) != null) {
                out.write((tag + " " + line + "\n").getBytes(java.nio.charset.StandardCharsets.UTF_8));
                out.flush();
            }
        };
    }
}
