// Open-loop HTTP/1.1 load generator and connection holder for bench/run.sh.
// Runs with the JDK's single-file launcher: `java bench/LoadGen.java rate ...` (no dependencies).
//
//   rate  HOST PORT PATH RATE SECONDS CONNECTIONS  -> fixed-rate requests over keep-alive connections;
//         latency is measured from each request's SCHEDULED send time (coordinated-omission safe);
//         prints one JSON line {requests, errors, p50_us, p90_us, p99_us, max_us, achieved_rps}
//   hold  HOST PORT CONNECTIONS SECONDS          -> opens CONNECTIONS connections, sends one request on
//         each, prints "holding N" once all answered, holds them SECONDS, then closes
import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;

public class LoadGen {
    /** Job marker: an unmeasured request that opens (and warms) a worker's connection. */
    static final long WARM_UP = Long.MIN_VALUE;

    public static void main(String[] a) throws Exception {
        switch (a[0]) {
            case "rate" -> rate(a[1], Integer.parseInt(a[2]), a[3], Integer.parseInt(a[4]), Integer.parseInt(a[5]),
                    Integer.parseInt(a[6]));
            case "hold" -> hold(a[1], Integer.parseInt(a[2]), Integer.parseInt(a[3]), Integer.parseInt(a[4]));
            default -> throw new IllegalArgumentException("mode: " + a[0] + " (expected: rate | hold)");
        }
    }

    static byte[] request(String host, String path) {
        return ("GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII);
    }

    /** Reads one HTTP/1.1 response with Content-Length; returns false on EOF. */
    static boolean readResponse(InputStream in) throws IOException {
        var line = new StringBuilder();
        int contentLength = -1;
        boolean first = true;
        while (true) {
            int c = in.read();
            if (c < 0) return false;
            if (c == '\n') {
                String l = line.toString().trim();
                line.setLength(0);
                if (l.isEmpty()) {
                    if (first) continue;
                    break;
                }
                first = false;
                if (l.regionMatches(true, 0, "content-length:", 0, 15)) {
                    contentLength = Integer.parseInt(l.substring(15).trim());
                }
            } else {
                line.append((char) c);
            }
        }
        if (contentLength < 0) throw new IOException("response without Content-Length");
        long left = contentLength;
        byte[] buf = new byte[65536];
        while (left > 0) {
            int n = in.read(buf, 0, (int) Math.min(buf.length, left));
            if (n < 0) return false;
            left -= n;
        }
        return true;
    }

    static void rate(String host, int port, String path, int rate, int seconds, int conns) throws Exception {
        byte[] req = request(host, path);
        int total = rate * seconds;
        long[] latencies = new long[total];
        AtomicInteger done = new AtomicInteger();
        AtomicInteger errors = new AtomicInteger();
        List<BlockingQueue<long[]>> queues = new ArrayList<>();
        List<Thread> workers = new ArrayList<>();
        for (int c = 0; c < conns; c++) {
            var q = new ArrayBlockingQueue<long[]>(total / conns + 16);
            queues.add(q);
            Thread t = new Thread(() -> {
                Socket s = null;
                InputStream in = null;
                OutputStream out = null;
                while (true) {
                    long[] job;
                    try {
                        job = q.take();
                    } catch (InterruptedException e) {
                        return;
                    }
                    if (job[0] < 0 && job[0] != WARM_UP) break;
                    try {
                        if (s == null) {
                            s = new Socket();
                            s.setTcpNoDelay(true);
                            s.connect(new InetSocketAddress(host, port), 5000);
                            in = new BufferedInputStream(s.getInputStream(), 65536);
                            out = s.getOutputStream();
                        }
                        out.write(req);
                        out.flush();
                        if (!readResponse(in)) throw new IOException("EOF");
                        if (job[0] == WARM_UP) {
                            done.incrementAndGet();
                            continue;
                        }
                        latencies[(int) job[1]] = System.nanoTime() - job[0];
                    } catch (IOException e) {
                        if (job[0] == WARM_UP) {
                            done.incrementAndGet();
                            try { if (s != null) s.close(); } catch (IOException ignored) { }
                            s = null;
                            continue;
                        }
                        errors.incrementAndGet();
                        latencies[(int) job[1]] = -1;
                        try { if (s != null) s.close(); } catch (IOException ignored) { }
                        s = null;
                    }
                    done.incrementAndGet();
                }
                try { if (s != null) s.close(); } catch (IOException ignored) { }
            });
            t.start();
            workers.add(t);
        }
        // Every connection is opened and used once (unmeasured) before the schedule starts, so no scheduled
        // request pays for a connect.
        for (var q : queues) q.put(new long[] {WARM_UP, -1});
        while (done.get() < conns) Thread.sleep(1);
        done.set(0);
        long interval = TimeUnit.SECONDS.toNanos(1) / rate;
        long start = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(50);
        for (int i = 0; i < total; i++) {
            long at = start + i * interval;
            long wait;
            while ((wait = at - System.nanoTime()) > 0) {
                LockSupport.parkNanos(wait);
            }
            queues.get(i % conns).put(new long[] {at, i});
        }
        for (var q : queues) q.put(new long[] {-1, -1});
        for (Thread t : workers) t.join();
        double elapsed = (System.nanoTime() - start) / 1e9;
        long[] ok = Arrays.stream(latencies).filter(l -> l >= 0).sorted().toArray();
        System.out.printf("{\"requests\":%d,\"errors\":%d,\"p50_us\":%d,\"p90_us\":%d,\"p99_us\":%d,\"max_us\":%d,"
                        + "\"achieved_rps\":%.1f}%n", total, errors.get(), pct(ok, 50), pct(ok, 90), pct(ok, 99),
                ok.length == 0 ? 0 : ok[ok.length - 1] / 1000, total / elapsed);
    }

    static long pct(long[] sorted, double p) {
        if (sorted.length == 0) return 0;
        int i = (int) Math.ceil(p / 100.0 * sorted.length) - 1;
        return sorted[Math.max(0, Math.min(sorted.length - 1, i))] / 1000;
    }

    static void hold(String host, int port, int n, int seconds) throws Exception {
        byte[] req = request(host, "/100b");
        List<Socket> sockets = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            Socket s = new Socket();
            s.connect(new InetSocketAddress(host, port), 5000);
            s.getOutputStream().write(req);
            if (!readResponse(new BufferedInputStream(s.getInputStream()))) throw new IOException("EOF on " + i);
            sockets.add(s);
        }
        System.out.println("holding " + sockets.size());
        System.out.flush();
        Thread.sleep(seconds * 1000L);
        for (Socket s : sockets) s.close();
    }
}
