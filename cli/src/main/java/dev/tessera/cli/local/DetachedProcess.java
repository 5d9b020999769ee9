package dev.tessera.cli.local;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * One detached process of a local cluster (an agent or the controller) started inside a network
 * namespace, with its pid and start time (against pid reuse) in a pid file and its output appended to a
 * log. Only the recorded process is ever signalled.
 *
 * @param what how messages name it, e.g. {@code agent of node1}
 * @param pidFile where the pid and start time are recorded
 * @param log where its output goes
 */
record DetachedProcess(String what, Path pidFile, Path log) {

    /** Starts {@code command} in the namespace {@code netns} unless already running; returns the pid. */
    long start(Path netns, List<String> command) throws IOException {
        Optional<ProcessHandle> running = handle();
        if (running.isPresent()) {
            return running.get().pid();
        }
        var cmd = new ArrayList<String>(List.of("setsid", "nsenter", "--net=" + netns, "--"));
        cmd.addAll(command);
        Files.writeString(log, "# " + java.time.Instant.now() + " starting: " + String.join(" ", cmd) + "\n",
                java.nio.file.StandardOpenOption.CREATE, java.nio.file.StandardOpenOption.APPEND);
        var pb = new ProcessBuilder(cmd)
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()))
                .redirectError(ProcessBuilder.Redirect.appendTo(log.toFile()));
        pb.environment().putIfAbsent("MALLOC_ARENA_MAX", "2");
        Process p = pb.start();
        long start = p.info().startInstant().map(java.time.Instant::toEpochMilli).orElse(0L);
        // pid, start instant (read by older CLIs), start in clock ticks since boot (what this CLI compares)
        Files.writeString(pidFile, p.pid() + " " + start + " " + startTicks(p.pid()) + "\n");
        return p.pid();
    }

    /** The live process, if the recorded pid still is that process. */
    Optional<ProcessHandle> handle() {
        if (!Files.isRegularFile(pidFile)) {
            return Optional.empty();
        }
        try {
            String[] parts = Files.readString(pidFile).trim().split("\\s+");
            long pid = Long.parseLong(parts[0]);
            long start = parts.length > 1 ? Long.parseLong(parts[1]) : 0L;
            long ticks = parts.length > 2 ? Long.parseLong(parts[2]) : -1L;
            if (ticks >= 0) {
                // The start in ticks since boot does not move with the wall clock; ProcessHandle's start instant
                // does (it is boot time + ticks, and the boot time is wall clock minus uptime): after a clock step
                // (a VM resumed, NTP) a live agent looked "not running" and `local down` left it running.
                return ProcessHandle.of(pid).filter(ProcessHandle::isAlive).filter(h -> startTicks(pid) == ticks);
            }
            return ProcessHandle.of(pid).filter(ProcessHandle::isAlive).filter(h -> start == 0L
                    || h.info().startInstant().map(i -> i.toEpochMilli() == start).orElse(false));
        } catch (IOException | RuntimeException e) {
            return Optional.empty();
        }
    }

    /**
     * When process {@code pid} started, in clock ticks since boot (field 22 of {@code /proc/PID/stat}); -1 when
     * unknown (no such process).
     */
    static long startTicks(long pid) {
        try {
            String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
            String[] fields = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
            return Long.parseLong(fields[19]); // fields[0] is field 3 (state)
        } catch (IOException | RuntimeException e) {
            return -1L;
        }
    }

    /** SIGKILL, then waits until it is gone. */
    void kill() throws IOException {
        Optional<ProcessHandle> h = handle();
        if (h.isPresent()) {
            h.get().destroyForcibly();
            awaitExit(h.get(), Duration.ofSeconds(10));
        }
        Files.deleteIfExists(pidFile);
    }

    /** SIGTERM, then SIGKILL after {@code grace}. */
    void stop(Duration grace) throws IOException {
        Optional<ProcessHandle> h = handle();
        if (h.isPresent()) {
            h.get().destroy();
            if (!awaitExit(h.get(), grace)) {
                h.get().destroyForcibly();
                awaitExit(h.get(), Duration.ofSeconds(10));
            }
        }
        Files.deleteIfExists(pidFile);
    }

    /**
     * Polls {@code http://host:port/healthz/ready} from inside {@code netns} until it answers 200; fails
     * early, quoting the log, if the process exits first.
     */
    void awaitReady(Path netns, String host, int port, Duration timeout) throws IOException {
        awaitReady(netns, host, port, timeout, null);
    }

    /**
     * Like {@link #awaitReady(Path, String, int, Duration)}, but a 200 counts only when its body contains
     * {@code bodyMark} (e.g. {@code pid=123}: during an upgrade the previous process may still answer).
     */
    void awaitReady(Path netns, String host, int port, Duration timeout, String bodyMark) throws IOException {
        java.time.Instant deadline = java.time.Instant.now().plus(timeout);
        String last = "no answer yet";
        while (true) {
            if (handle().isEmpty()) {
                throw new IOException(what + " exited before it was ready; log " + log + " ends with:\n" + logTail(30));
            }
            try {
                NodeHttp.Response r = NodeHttp.get(netns, host, port, "/healthz/ready", Duration.ofSeconds(1));
                if (r.status() == 200 && (bodyMark == null || r.body().contains(bodyMark))) {
                    return;
                }
                last = "HTTP " + r.status() + " " + r.body().strip();
            } catch (IOException e) {
                last = e.getMessage();
            }
            if (java.time.Instant.now().isAfter(deadline)) {
                throw new IOException(what + " not ready after " + timeout.toSeconds() + " s (last: " + last + "); log "
                        + log + " ends with:\n" + logTail(30));
            }
            try {
                Thread.sleep(200); // polling an external process' readiness endpoint
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted while waiting for the " + what, e);
            }
        }
    }

    /** {@code ready}, {@code starting} (running, not ready) or {@code stopped}. */
    String state(Path netns, String host, int port) {
        if (handle().isEmpty()) {
            return "stopped";
        }
        try {
            return NodeHttp.get(netns, host, port, "/healthz/ready", Duration.ofSeconds(1)).status() == 200 ? "ready"
                    : "starting";
        } catch (IOException e) {
            return "starting";
        }
    }

    /** The last {@code lines} lines of the log. */
    String logTail(int lines) {
        try {
            List<String> all = Files.readAllLines(log);
            return String.join("\n", all.subList(Math.max(0, all.size() - lines), all.size()));
        } catch (IOException e) {
            return "(no log: " + e.getMessage() + ")";
        }
    }

    private boolean awaitExit(ProcessHandle h, Duration timeout) throws IOException {
        try {
            h.onExit().get(timeout.toMillis(), TimeUnit.MILLISECONDS);
            return true;
        } catch (java.util.concurrent.TimeoutException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while waiting for the " + what + " (pid " + h.pid() + ")", e);
        } catch (java.util.concurrent.ExecutionException e) {
            return !h.isAlive();
        }
    }

    /** JVM options from a {@code .options} resource next to this class (comments and blank lines dropped). */
    static String jvmOptionsResource(String resource) {
        try (var in = DetachedProcess.class.getResourceAsStream(resource)) {
            if (in == null) {
                throw new IllegalStateException(resource + ": missing from the CLI jar (expected: a resource of "
                        + DetachedProcess.class.getPackageName() + ")");
            }
            return new String(in.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8).lines()
                    .map(String::strip)
                    .filter(l -> !l.isEmpty() && !l.startsWith("#"))
                    .collect(java.util.stream.Collectors.joining(" "));
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(resource + ": cannot be read", e);
        }
    }

    /** {@code java} of this JVM plus the options (system property / environment override, else the default). */
    static List<String> java(String property, String env, String defaults) {
        var cmd = new ArrayList<String>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        String opts = System.getProperty(property, Optional.ofNullable(System.getenv(env)).orElse(defaults));
        java.util.Arrays.stream(opts.trim().split("\\s+")).filter(s -> !s.isEmpty()).forEach(cmd::add);
        return cmd;
    }
}
