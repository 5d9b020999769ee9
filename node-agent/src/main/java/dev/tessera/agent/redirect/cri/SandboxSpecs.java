package dev.tessera.agent.redirect.cri;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;

/** Reads a pod sandbox out of an OCI runtime spec ({@code config.json}). */
final class SandboxSpecs {

    private static final ObjectMapper JSON = new ObjectMapper();

    private SandboxSpecs() {}

    /**
     * The sandbox described by {@code spec}, or empty when the spec is not a pod sandbox's or the sandbox
     * has no network namespace of its own (host network).
     *
     * @throws IOException when the file cannot be read or is not JSON (e.g. still being written)
     */
    static Optional<Sandbox> read(CriLayout layout, String id, Path spec) throws IOException {
        Instant created = Files.getLastModifiedTime(spec).toInstant();
        return parse(layout, id, JSON.readTree(spec.toFile()), created);
    }

    static Optional<Sandbox> parse(CriLayout layout, String id, JsonNode root, Instant created) {
        if (root == null || !root.isObject()) {
            return Optional.empty();
        }
        Map<String, String> annotations = new HashMap<>();
        root.path("annotations").fields().forEachRemaining(e -> {
            if (e.getValue().isTextual()) {
                annotations.put(e.getKey(), e.getValue().asText());
            }
        });
        if (!layout.isSandbox(annotations)) {
            return Optional.empty();
        }
        Optional<String> name = layout.podName(annotations);
        Optional<String> namespace = layout.podNamespace(annotations);
        Optional<String> netns = networkNamespace(root);
        if (name.isEmpty() || namespace.isEmpty() || netns.isEmpty()) {
            return Optional.empty();
        }
        return Optional.of(new Sandbox(layout, id, namespace.get(), name.get(), layout.podUid(annotations).orElse(""),
                netns.get(), created));
    }

    /** {@code linux.namespaces[type=network].path}, when set. */
    private static Optional<String> networkNamespace(JsonNode root) {
        for (JsonNode ns : root.path("linux").path("namespaces")) {
            if ("network".equals(ns.path("type").asText())) {
                String path = ns.path("path").asText("");
                return path.isEmpty() ? Optional.empty() : Optional.of(path);
            }
        }
        return Optional.empty();
    }
}
