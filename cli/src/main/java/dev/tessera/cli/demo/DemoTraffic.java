package dev.tessera.cli.demo;

import dev.tessera.api.netns.Netns;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.function.Consumer;

/**
 * The demo's workloads, in this process: a line-echo server listening inside the server pod's network
 * namespace, and a client thread that joined the client pod's namespace and opens one short
 * connection per second. Their sockets live in the pods' namespaces, so the mesh captures them exactly
 * like a real workload's.
 */
public final class DemoTraffic implements AutoCloseable {

    private final ServerSocket server;
    private final Thread acceptor;
    private final Thread client;
    private volatile boolean running = true;

    /** Starts the server at {@code serverIp:port} in {@code serverNetns} and the client loop in {@code clientNetns}. */
    public DemoTraffic(Path serverNetns, String serverIp, int port, Path clientNetns, Consumer<String> out) throws IOException {
        server = Netns.call(serverNetns, () -> {
            var s = new ServerSocket();
            s.setReuseAddress(true);
            s.bind(new InetSocketAddress(serverIp, port));
            return s;
        });
        acceptor = new Thread(this::accept, "demo-server");
        acceptor.setDaemon(true);
        acceptor.start();
        client = new Thread(() -> {
            try {
                Netns.enter(clientNetns);
            } catch (IOException e) {
                out.accept("client: " + e.getMessage());
                return;
            }
            for (int i = 1; running; i++) {
                out.accept(exchange(serverIp, port, i));
                try {
                    Thread.sleep(1000); // the demo's pace: one request a second
                } catch (InterruptedException e) {
                    return;
                }
            }
        }, "demo-client");
        client.setDaemon(true);
        client.start();
    }

    private static String exchange(String ip, int port, int i) {
        long t0 = System.nanoTime();
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress(ip, port), 2000);
            s.setSoTimeout(2000);
            var w = new PrintWriter(s.getOutputStream(), true, StandardCharsets.UTF_8);
            var r = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8));
            w.println("hello " + i);
            String reply = r.readLine();
            double ms = (System.nanoTime() - t0) / 1e6;
            return String.format("client   -> %s:%d  request %d: reply \"%s\" in %.1f ms", ip, port, i, reply, ms);
        } catch (IOException e) {
            return String.format("client   -> %s:%d  request %d FAILED: %s", ip, port, i, e.getMessage());
        }
    }

    private void accept() {
        while (running) {
            try {
                Socket s = server.accept();
                Thread t = new Thread(() -> echo(s), "demo-echo");
                t.setDaemon(true);
                t.start();
            } catch (IOException e) {
                return; // closed
            }
        }
    }

    private static void echo(Socket s) {
        try (s) {
            var r = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8));
            var w = new PrintWriter(s.getOutputStream(), true, StandardCharsets.UTF_8);
            String line;
            while ((line = r.readLine()) != null) {
                w.println("echo from server: " + line);
            }
        } catch (IOException e) {
            // client went away
        }
    }

    @Override
    public void close() throws IOException {
        running = false;
        client.interrupt();
        server.close();
    }
}
