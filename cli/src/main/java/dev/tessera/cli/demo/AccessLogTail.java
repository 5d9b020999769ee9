package dev.tessera.cli.demo;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.BiConsumer;

/**
 * Follows the agents' log files from their current end and hands every access-log record to a
 * consumer together with the node whose agent wrote it. Runs on one daemon thread; {@link #close} stops it.
 */
public final class AccessLogTail implements AutoCloseable {

    private final Map<String, Path> logs;
    private final Map<String, Long> positions = new LinkedHashMap<>();
    private final Map<String, StringBuilder> partial = new LinkedHashMap<>();
    private final BiConsumer<String, AccessLogLine> consumer;
    private final Thread thread;
    private volatile boolean running = true;

    /** Starts following {@code logs} (node -> log file). */
    public AccessLogTail(Map<String, Path> logs, BiConsumer<String, AccessLogLine> consumer) {
        this.logs = Map.copyOf(logs);
        this.consumer = consumer;
        for (var e : logs.entrySet()) {
            positions.put(e.getKey(), size(e.getValue()));
            partial.put(e.getKey(), new StringBuilder());
        }
        thread = new Thread(this::loop, "access-log-tail");
        thread.setDaemon(true);
        thread.start();
    }

    private static long size(Path p) {
        try {
            return Files.size(p);
        } catch (IOException e) {
            return 0L;
        }
    }

    private void loop() {
        while (running) {
            for (var e : logs.entrySet()) {
                poll(e.getKey(), e.getValue());
            }
            try {
                Thread.sleep(250); // following a file another process appends to
            } catch (InterruptedException e) {
                return;
            }
        }
    }

    private void poll(String node, Path log) {
        long pos = positions.get(node);
        long size = size(log);
        if (size < pos) {
            pos = 0; // truncated or replaced
        }
        if (size == pos) {
            return;
        }
        try (var f = new RandomAccessFile(log.toFile(), "r")) {
            f.seek(pos);
            byte[] buf = new byte[(int) Math.min(size - pos, 1 << 20)];
            f.readFully(buf);
            positions.put(node, pos + buf.length);
            StringBuilder sb = partial.get(node).append(new String(buf, StandardCharsets.UTF_8));
            int nl;
            while ((nl = sb.indexOf("\n")) >= 0) {
                String line = sb.substring(0, nl);
                sb.delete(0, nl + 1);
                AccessLogLine.parse(line).ifPresent(l -> consumer.accept(node, l));
            }
        } catch (IOException e) {
            // the log may be rotated away by a restart; try again next round
        }
    }

    @Override
    public void close() {
        running = false;
        thread.interrupt();
    }
}
