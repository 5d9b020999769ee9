package dev.tessera.agent.fuzz;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.tessera.agent.redirect.cri.CriLayout;
import dev.tessera.agent.redirect.cri.CriNetnsResolver;
import dev.tessera.agent.redirect.cri.Sandbox;
import dev.tessera.api.identity.SpiffeId;
import dev.tessera.api.model.Workload;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.EnumSet;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The container runtime's state files the agent reads to find pods' network namespaces (containerd's
 * runtime-v2 {@code config.json}, CRI-O's {@code userdata/config.json}): any file content, written where the
 * runtime writes it under a host root of the test's own, through the public resolver. A spec that is not
 * a sandbox's (or not JSON yet) is skipped; nothing may throw, and a namespace path found must stay under
 * the host root (a spec naming {@code ../../etc} must not lead the agent outside it).
 */
class CriSpecFuzzTest {

    private static final AtomicLong IDS = new AtomicLong();
    private static Path hostRoot;

    private static synchronized Path hostRoot() throws IOException {
        if (hostRoot == null) {
            hostRoot = Files.createTempDirectory("tessera-fuzz-cri");
            for (CriLayout l : CriLayout.values()) {
                Files.createDirectories(hostRoot.resolve(l.stateDir()));
            }
            Files.createDirectories(hostRoot.resolve("var/run/netns"));
            Files.writeString(hostRoot.resolve("var/run/netns/cni-1"), "");
            Runtime.getRuntime().addShutdownHook(new Thread(() -> delete(hostRoot)));
        }
        return hostRoot;
    }

    @FuzzTest(maxDuration = "15s") // exploration (JAZZER_FUZZ=1) only; regression runs the corpus once
    void sandboxSpec(byte[] data) throws IOException {
        Path root = hostRoot();
        CriLayout layout = data.length > 0 && (data[0] & 1) == 1 ? CriLayout.CRIO : CriLayout.CONTAINERD;
        String id = "c" + IDS.incrementAndGet();
        Path container = root.resolve(layout.stateDir()).resolve(id);
        Path spec = layout == CriLayout.CRIO ? container.resolve("userdata/config.json") : container.resolve("config.json");
        Files.createDirectories(spec.getParent());
        Files.write(spec, data);
        try {
            var resolver = new CriNetnsResolver(root, EnumSet.of(layout));
            for (Sandbox s : resolver.sandboxes()) {
                var pod = new Workload(s.namespace().isEmpty() ? "x" : s.namespace(), s.name().isEmpty() ? "x" : s.name(),
                        "node1", InetAddress.getLoopbackAddress(), "sa", Map.of(), true, new SpiffeId("cluster.local", "x", "sa"));
                resolver.netnsOf(pod).ifPresent(p -> {
                    if (!p.normalize().startsWith(root)) {
                        throw new AssertionError("netns " + s.netns() + " resolved outside the host root: " + p);
                    }
                });
            }
        } catch (UncheckedIOException e) {
            throw new AssertionError("reading a runtime spec failed instead of skipping it", e);
        } finally {
            delete(container);
        }
    }

    private static void delete(Path p) {
        try (var files = Files.walk(p)) {
            files.sorted(Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
        } catch (IOException ignored) {
            // best effort in a temp directory
        }
    }
}
