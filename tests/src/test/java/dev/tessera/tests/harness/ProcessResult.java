package dev.tessera.tests.harness;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** A finished process run inside a network namespace: exit code and output. */
public record ProcessResult(int exitCode, String stdout, String stderr) {

    /** Runs {@code command} in {@code netns} (nsenter --net, which keeps /sys/fs/bpf visible); kills it on timeout. */
    public static ProcessResult run(Path netns, Duration timeout, String... command) throws IOException {
        var cmd = new ArrayList<String>(List.of("nsenter", "--net=" + netns, "--"));
        cmd.addAll(List.of(command));
        Path out = Files.createTempFile("tessera-exec-", ".out");
        Path err = Files.createTempFile("tessera-exec-", ".err");
        try {
            Process p = new ProcessBuilder(cmd).redirectOutput(out.toFile()).redirectError(err.toFile())
                    .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null"))).start();
            try {
                if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                    p.destroyForcibly();
                    p.waitFor(5, TimeUnit.SECONDS);
                    throw new IOException("timed out after " + timeout + ": " + String.join(" ", command));
                }
            } catch (InterruptedException e) {
                p.destroyForcibly();
                Thread.currentThread().interrupt();
                throw new IOException("interrupted: " + String.join(" ", command), e);
            }
            return new ProcessResult(p.exitValue(), Files.readString(out, StandardCharsets.UTF_8),
                    Files.readString(err, StandardCharsets.UTF_8));
        } finally {
            Files.deleteIfExists(out);
            Files.deleteIfExists(err);
        }
    }
}
