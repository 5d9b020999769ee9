package dev.tessera.tests.harness;

import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * tcpdump on one interface of a network namespace, writing a pcap file. Started and stopped by pid
 * (SIGTERM, which makes tcpdump flush and print its drop statistics). Snap length is kept short: tests
 * look at headers and the first bytes of every segment.
 */
public final class PacketCapture implements AutoCloseable {

    /** Bytes captured per packet: Ethernet + IPv4 + TCP headers and at least 150 bytes of payload. */
    public static final int SNAPLEN = 256;

    private static final Pattern DROPPED = Pattern.compile("(\\d+) packets? dropped by kernel");
    private static final Pattern CAPTURED = Pattern.compile("(\\d+) packets? captured");
    private static final Pattern RECEIVED = Pattern.compile("(\\d+) packets? received by filter");

    private final Process process;
    private final Path file;
    private final Path log;
    private Result result;

    private PacketCapture(Process process, Path file, Path log) {
        this.process = process;
        this.file = file;
        this.log = log;
    }

    static PacketCapture start(Path netns, String iface, String filter, Path dir) throws IOException {
        Path file = Files.createTempFile(dir, "capture-", ".pcap");
        Path log = Files.createTempFile(dir, "capture-", ".log");
        var cmd = new ArrayList<String>(List.of("nsenter", "--net=" + netns, "--", "tcpdump", "-i", iface, "-n", "-U",
                "-Z", "root", "--immediate-mode", "-s", String.valueOf(SNAPLEN), "-B", "16384", "-w", file.toString()));
        if (filter != null && !filter.isBlank()) {
            cmd.addAll(List.of(filter.split("\\s+")));
        }
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        var capture = new PacketCapture(p, file, log);
        await("tcpdump listening on " + iface).atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(50))
                .until(() -> !p.isAlive() || Files.readString(log).contains("listening on"));
        if (!p.isAlive()) {
            throw new IOException("tcpdump exited: " + Files.readString(log));
        }
        return capture;
    }

    /** Stops tcpdump (by its pid) and reads the capture. */
    public synchronized Result stop() throws IOException {
        if (result != null) {
            return result;
        }
        awaitQuiet();
        process.destroy(); // SIGTERM to our tcpdump's pid
        try {
            if (!process.waitFor(10, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                throw new IOException("tcpdump did not stop within 10 s");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException(e);
        }
        String out = Files.readString(log);
        byte[] pcap = Files.readAllBytes(file);
        result = new Result(pcap, Pcap.parse(pcap), count(DROPPED, out), count(CAPTURED, out), count(RECEIVED, out), out);
        Files.deleteIfExists(file);
        Files.deleteIfExists(log);
        return result;
    }

    /**
     * Waits until the capture file stopped growing (the connection's last FIN/ACKs are written): stopping
     * tcpdump while packets are in flight leaves "received by filter" above "captured".
     */
    private void awaitQuiet() {
        long[] last = {-1};
        int[] stable = {0};
        await("capture quiet").atMost(Duration.ofSeconds(5)).pollInterval(Duration.ofMillis(100)).until(() -> {
            long size = Files.size(file);
            stable[0] = size == last[0] ? stable[0] + 1 : 0;
            last[0] = size;
            return stable[0] >= 3;
        });
    }

    private static long count(Pattern p, String text) {
        Matcher m = p.matcher(text);
        return m.find() ? Long.parseLong(m.group(1)) : -1;
    }

    @Override
    public void close() throws IOException {
        if (process.isAlive()) {
            stop();
        }
        Files.deleteIfExists(file);
        Files.deleteIfExists(log);
    }

    /**
     * A stopped capture: the raw file, its packets, and tcpdump's statistics (-1 if not reported).
     * A complete capture has {@code droppedByKernel == 0} and {@code captured == receivedByFilter}.
     */
    public record Result(byte[] raw, List<Pcap.Packet> packets, long droppedByKernel, long captured,
            long receivedByFilter, String tcpdumpOutput) {

        /** Every packet the filter matched was written and none was dropped. */
        public boolean complete() {
            return droppedByKernel == 0 && captured >= 0 && captured == receivedByFilter && captured == packets.size();
        }

        /** Whether any captured byte sequence (headers or payload) contains {@code needle}. */
        public boolean contains(byte[] needle) {
            return Pcap.indexOf(raw, needle, 0) >= 0;
        }
    }
}
