package dev.tessera.images.harness;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Runs host commands (ip, bpftool, build.sh) and returns their output; fails with the command's stderr. */
public final class Host {

    /** Exit code, stdout and stderr of a finished command. */
    public record Result(int exit, String stdout, String stderr) {
        public boolean ok() {
            return exit == 0;
        }
    }

    private Host() {}

    /** Runs {@code command}; throws unless it exits 0 within {@code timeoutSeconds}. */
    public static String run(long timeoutSeconds, String... command) throws IOException {
        Result r = tryRun(timeoutSeconds, command);
        if (!r.ok()) {
            throw new IOException(String.join(" ", command) + ": exit " + r.exit() + ": " + r.stderr().strip()
                    + (r.stdout().isBlank() ? "" : "\n" + tail(r.stdout(), 2000)));
        }
        return r.stdout();
    }

    /** Runs {@code command} and returns whatever happened (exit 124 on timeout, after killing it). */
    public static Result tryRun(long timeoutSeconds, String... command) throws IOException {
        Process p = new ProcessBuilder(List.of(command)).start();
        var out = new java.io.ByteArrayOutputStream();
        var err = new java.io.ByteArrayOutputStream();
        Thread o = pump(p.getInputStream(), out);
        Thread e = pump(p.getErrorStream(), err);
        try {
            if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                p.waitFor(10, TimeUnit.SECONDS);
                return new Result(124, out.toString(StandardCharsets.UTF_8), "timed out after " + timeoutSeconds + " s");
            }
            o.join(5_000);
            e.join(5_000);
        } catch (InterruptedException ex) {
            p.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new IOException("interrupted: " + String.join(" ", command), ex);
        }
        return new Result(p.exitValue(), out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    /** True when {@code tool} is on the PATH. */
    public static boolean has(String tool) {
        try {
            return tryRun(10, "sh", "-c", "command -v " + tool).ok();
        } catch (IOException e) {
            return false;
        }
    }

    static String tail(String s, int max) {
        return s.length() <= max ? s : "..." + s.substring(s.length() - max);
    }

    private static Thread pump(java.io.InputStream in, java.io.OutputStream out) {
        Thread t = new Thread(() -> {
            try (in) {
                in.transferTo(out);
            } catch (IOException ignored) {
                // process gone
            }
        }, "host-pump");
        t.setDaemon(true);
        t.start();
        return t;
    }
}
