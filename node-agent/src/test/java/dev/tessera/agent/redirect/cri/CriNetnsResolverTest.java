package dev.tessera.agent.redirect.cri;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tessera.api.identity.SpiffeId;
import dev.tessera.api.json.Json;
import dev.tessera.api.model.Workload;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Instant;
import java.util.Comparator;
import java.util.EnumSet;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The CRI resolver on copies of the fixture trees in {@code src/test/resources/cri} (see its README). */
class CriNetnsResolverTest {

    static final String CONTAINERD_SANDBOX = "3f1c6a0de2b84e0f9d3c1b7a5e2d4c6b8a0f1e3d5c7b9a1f3e5d7c9b1a3f5e7d";
    static final String CONTAINERD_NETNS = "var/run/netns/cni-7a3c2e1f-9b8d-4c6e-a5f4-3d2c1b0a9f8e";
    static final String CRIO_SANDBOX = "5d8f2b4e6a1c3d7f9b0e2a4c6d8f1b3e5a7c9d2f4b6e8a0c2d4f6b8e1a3c5d7f";
    static final String CRIO_NETNS = "var/run/netns/2b4d6f8a-0c1e-4a3b-9d5f-7e8a9b0c1d2e";
    static final Path TASKS = CriLayout.CONTAINERD.stateDir();

    @TempDir
    Path host;

    @Test
    void containerdSandboxGivesThePodsNetns() throws Exception {
        copyFixture("containerd");
        Path netns = touch(CONTAINERD_NETNS);
        var resolver = new CriNetnsResolver(host);

        assertThat(resolver.netnsOf(pod("bookinfo", "productpage-v1-5f6b7c9d4-x2k8q"))).contains(netns);
        // the workload container and the host-network sandbox are no sandboxes with a netns of their own
        assertThat(resolver.sandboxes()).singleElement().satisfies(s -> {
            assertThat(s.layout()).isEqualTo(CriLayout.CONTAINERD);
            assertThat(s.id()).isEqualTo(CONTAINERD_SANDBOX);
            assertThat(s.uid()).isEqualTo("0d6e5a4c-3b2a-4918-8f7e-6d5c4b3a2918");
            assertThat(s.netns()).isEqualTo("/" + CONTAINERD_NETNS);
        });
        assertThat(resolver.netnsOf(pod("kube-system", "kube-proxy-7xq2m"))).isEmpty();
        assertThat(resolver.netnsOf(pod("bookinfo", "reviews-v2-7d8c9b6a5-m4n7p"))).isEmpty();
    }

    @Test
    void crioSandboxGivesThePodsNetns() throws Exception {
        copyFixture("crio");
        Path netns = touch(CRIO_NETNS);
        var resolver = new CriNetnsResolver(host);

        assertThat(resolver.netnsOf(pod("bookinfo", "reviews-v2-7d8c9b6a5-m4n7p"))).contains(netns);
        assertThat(resolver.sandboxes()).singleElement().satisfies(s -> {
            assertThat(s.layout()).isEqualTo(CriLayout.CRIO);
            assertThat(s.id()).isEqualTo(CRIO_SANDBOX);
            assertThat(s.uid()).isEqualTo("8c7b6a59-4e3d-4c2b-a190-8f7e6d5c4b3a");
        });
    }

    @Test
    void crioFallsBackToItsOwnAnnotationsWithoutKubeletLabels() throws Exception {
        copyFixture("crio");
        Path spec = host.resolve(CriLayout.CRIO.stateDir()).resolve(CRIO_SANDBOX).resolve("userdata/config.json");
        Files.writeString(spec, Files.readString(spec)
                .replaceAll("\"io\\.kubernetes\\.pod\\.(name|namespace|uid)\": \"[^\"]*\",\\s*", ""));
        assertThat(Files.readString(spec)).doesNotContain("\"io.kubernetes.pod.name\"");
        Path netns = touch(CRIO_NETNS);

        assertThat(new CriNetnsResolver(host).netnsOf(pod("bookinfo", "reviews-v2-7d8c9b6a5-m4n7p"))).contains(netns);
    }

    @Test
    void bothRuntimesAtOnce() throws Exception {
        copyFixture("containerd");
        copyFixture("crio");
        touch(CONTAINERD_NETNS);
        touch(CRIO_NETNS);
        assertThat(new CriNetnsResolver(host).sandboxes()).extracting(Sandbox::layout)
                .containsExactlyInAnyOrder(CriLayout.CONTAINERD, CriLayout.CRIO);
    }

    @Test
    void aNetnsThatIsGoneIsNotReturned() throws Exception {
        copyFixture("containerd");
        var resolver = new CriNetnsResolver(host);
        assertThat(resolver.netnsOf(pod("bookinfo", "productpage-v1-5f6b7c9d4-x2k8q"))).isEmpty();
        Path netns = touch(CONTAINERD_NETNS);
        assertThat(resolver.netnsOf(pod("bookinfo", "productpage-v1-5f6b7c9d4-x2k8q"))).contains(netns);
    }

    @Test
    void netnsUnderRunIsFoundWhenOnlyVarRunIsMounted() throws Exception {
        copyFixture("containerd");
        Path spec = host.resolve(TASKS).resolve(CONTAINERD_SANDBOX).resolve("config.json");
        Files.writeString(spec, Files.readString(spec).replace("\"/var/run/netns/", "\"/run/netns/"));
        Path netns = touch(CONTAINERD_NETNS);
        assertThat(new CriNetnsResolver(host).netnsOf(pod("bookinfo", "productpage-v1-5f6b7c9d4-x2k8q")))
                .contains(netns);
    }

    @Test
    void podRecreatedUnderTheSameNameGetsItsNewNetns() throws Exception {
        copyFixture("containerd");
        Path oldNetns = touch(CONTAINERD_NETNS);
        var resolver = new CriNetnsResolver(host);
        var productpage = pod("bookinfo", "productpage-v1-5f6b7c9d4-x2k8q");
        assertThat(resolver.netnsOf(productpage)).contains(oldNetns);

        // the new sandbox appears while the old one is still being torn down: the newest wins
        String newId = "0a2c4e6f8b1d3f5a7c9e0b2d4f6a8c1e3b5d7f9a0c2e4b6d8f1a3c5e7b9d0f2a";
        Path newNetns = addContainerdSandbox(newId, "cni-11111111-2222-4333-8444-555555555555",
                Instant.now().plusSeconds(5));
        assertThat(resolver.netnsOf(productpage)).contains(newNetns);

        // the old sandbox goes away entirely: still the new one, and the old one is forgotten
        deleteTree(host.resolve(TASKS).resolve(CONTAINERD_SANDBOX));
        Files.delete(oldNetns);
        assertThat(resolver.netnsOf(productpage)).contains(newNetns);
        assertThat(resolver.sandboxes()).extracting(Sandbox::id).containsExactly(newId);

        // and when the pod is deleted, nothing is returned any more
        deleteTree(host.resolve(TASKS).resolve(newId));
        assertThat(resolver.netnsOf(productpage)).isEmpty();
        assertThat(resolver.sandboxes()).isEmpty();
    }

    @Test
    void aSandboxDirectoryWithoutItsSpecYetIsReadOnceTheSpecAppears() throws Exception {
        copyFixture("containerd");
        var productpage = pod("bookinfo", "productpage-v1-5f6b7c9d4-x2k8q");
        Path spec = host.resolve(TASKS).resolve(CONTAINERD_SANDBOX).resolve("config.json");
        String json = Files.readString(spec);
        Files.delete(spec);
        touch(CONTAINERD_NETNS);
        // rebuild the cache with the bundle directory present but its spec missing, then half-written
        var fresh = new CriNetnsResolver(host);
        assertThat(fresh.netnsOf(productpage)).isEmpty();
        Files.writeString(spec, json.substring(0, json.length() / 2));
        assertThat(fresh.netnsOf(productpage)).isEmpty();
        Files.writeString(spec, json);
        Files.setLastModifiedTime(spec, FileTime.from(Instant.now().plusSeconds(1)));
        assertThat(fresh.netnsOf(productpage)).isPresent();
    }

    @Test
    void aHostRootWithoutRuntimeStateIsRefusedNamingTheOption() {
        assertThatThrownBy(() -> new CriNetnsResolver(host))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("hostRoot: " + host)
                .hasMessageContaining("/run/containerd/io.containerd.runtime.v2.task/k8s.io (containerd)")
                .hasMessageContaining("/run/containers/storage/overlay-containers (cri-o)");
    }

    @Test
    void onlyTheRequestedLayoutsAreRead() throws Exception {
        copyFixture("containerd");
        copyFixture("crio");
        touch(CONTAINERD_NETNS);
        touch(CRIO_NETNS);
        assertThat(new CriNetnsResolver(host, EnumSet.of(CriLayout.CRIO)).sandboxes())
                .extracting(Sandbox::layout).containsExactly(CriLayout.CRIO);
    }

    @Test
    void parseIgnoresSpecsThatAreNotSandboxes() throws Exception {
        assertThat(SandboxSpecs.parse(CriLayout.CONTAINERD, "x", Json.parse("{}"), Instant.EPOCH)).isEmpty();
        assertThat(SandboxSpecs.parse(CriLayout.CONTAINERD, "x", Json.parse("[]"), Instant.EPOCH)).isEmpty();
        // a containerd sandbox read with the CRI-O layout is not a CRI-O sandbox
        var containerdSpec = Json.parse(Files.readString(fixture("containerd").resolve(TASKS).resolve(CONTAINERD_SANDBOX)
                .resolve("config.json")));
        assertThat(SandboxSpecs.parse(CriLayout.CRIO, "x", containerdSpec, Instant.EPOCH)).isEmpty();
        assertThat(SandboxSpecs.parse(CriLayout.CONTAINERD, "x", containerdSpec, Instant.EPOCH)).isPresent();
    }

    private Path addContainerdSandbox(String id, String netnsName, Instant created) throws IOException {
        Path template = host.resolve(TASKS).resolve(CONTAINERD_SANDBOX).resolve("config.json");
        Path spec = host.resolve(TASKS).resolve(id).resolve("config.json");
        Files.createDirectories(spec.getParent());
        Files.writeString(spec, Files.readString(template).replace(CONTAINERD_SANDBOX, id)
                .replace("cni-7a3c2e1f-9b8d-4c6e-a5f4-3d2c1b0a9f8e", netnsName));
        Files.setLastModifiedTime(spec, FileTime.from(created));
        return touch("var/run/netns/" + netnsName);
    }

    private Path touch(String relative) throws IOException {
        Path p = host.resolve(relative);
        Files.createDirectories(p.getParent());
        return Files.exists(p) ? p : Files.createFile(p);
    }

    private void copyFixture(String name) throws IOException {
        Path from = fixture(name);
        try (Stream<Path> files = Files.walk(from)) {
            for (Path f : (Iterable<Path>) files::iterator) {
                Path to = host.resolve(from.relativize(f).toString());
                if (Files.isDirectory(f)) {
                    Files.createDirectories(to);
                } else {
                    Files.copy(f, to);
                }
            }
        }
    }

    private static Path fixture(String name) {
        try {
            return Path.of(CriNetnsResolverTest.class.getResource("/cri/" + name).toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    private static void deleteTree(Path dir) throws IOException {
        try (Stream<Path> files = Files.walk(dir)) {
            files.sorted(Comparator.reverseOrder()).forEach(p -> {
                try {
                    Files.delete(p);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });
        }
    }

    private static Workload pod(String namespace, String name) throws IOException {
        return new Workload(namespace, name, "node-1", InetAddress.getByName("198.18.1.2"), "default", Map.of(), true,
                new SpiffeId("cluster.local", namespace, "default"));
    }
}
