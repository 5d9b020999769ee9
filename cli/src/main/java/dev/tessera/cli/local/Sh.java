package dev.tessera.cli.local;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Runs short system commands ({@code ip}, {@code nsenter}, {@code mount}) and turns a non-zero exit into
 * an exception that quotes the command and its error output.
 */
public final class Sh {

    private Sh() {}

    /** The result of a finished command. */
    public record Result(int exitCode, String stdout, String stderr) {
        public boolean ok() {
            return exitCode == 0;
        }
    }

    /** Runs {@code command} and fails unless it exits with 0. */
    public static String run(String... command) throws IOException {
        Result r = tryRun(command);
        if (!r.ok()) {
            throw new IOException("command failed (exit " + r.exitCode() + "): " + String.join(" ", command)
                    + (r.stderr().isBlank() ? "" : ": " + r.stderr().strip()));
        }
        return r.stdout();
    }

    /** Runs {@code command} and returns its result whatever the exit code. */
    public static Result tryRun(String... command) throws IOException {
        return tryRun(Arrays.asList(command));
    }

    /** Runs {@code command} and returns its result whatever the exit code. */
    public static Result tryRun(List<String> command) throws IOException {
        var pb = new ProcessBuilder(new ArrayList<>(command));
        pb.redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
        Process p;
        try {
            p = pb.start();
        } catch (IOException e) {
            throw new IOException("cannot run " + command.get(0) + " (expected: installed, see scripts/setup.sh): "
                    + e.getMessage(), e);
        }
        try {
            // Small outputs only: read stderr fully on another thread to avoid a pipe deadlock.
            var err = new java.util.concurrent.CompletableFuture<String>();
            Thread t = new Thread(() -> {
                try {
                    err.complete(new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8));
                } catch (IOException e) {
                    err.complete("");
                }
            }, "sh-stderr");
            t.setDaemon(true);
            t.start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!p.waitFor(60, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IOException("command timed out after 60 s: " + String.join(" ", command));
            }
            return new Result(p.exitValue(), out, err.join());
        } catch (InterruptedException e) {
            p.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new IOException("interrupted: " + String.join(" ", command), e);
        }
    }

    /** True when the effective user is root (uid 0). */
    public static boolean isRoot() {
        try {
            for (String line : java.nio.file.Files.readAllLines(java.nio.file.Path.of("/proc/self/status"))) {
                if (line.startsWith("Uid:")) {
                    String[] f = line.split("\\s+");
                    return f.length > 2 && f[2].equals("0");
                }
            }
        } catch (IOException e) {
            return false;
        }
        return false;
    }
}
