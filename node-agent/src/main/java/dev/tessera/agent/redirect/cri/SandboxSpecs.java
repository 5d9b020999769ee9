package dev.tessera.agent.redirect.cri;

import dev.tessera.api.json.Json;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;

/** Reads a pod sandbox out of an OCI runtime spec ({@code config.json}). */
final class SandboxSpecs {

    private SandboxSpecs() {}

    /**
     * The sandbox described by {@code spec}, or empty when the spec is not a pod sandbox's or the sandbox
     * has no network namespace of its own (host network).
     *
     * @throws IOException when the file cannot be read or is not JSON (e.g. still being written)
     */
    static Optional<Sandbox> read(CriLayout layout, String id, Path spec) throws IOException {
        Instant created = Files.getLastModifiedTime(spec).toInstant();
        Object root;
        try {
            root = Json.parse(Files.readString(spec));
        } catch (IllegalArgumentException | java.io.UncheckedIOException e) { // not JSON (yet), or not UTF-8
            throw new IOException(spec + ": " + e.getMessage(), e);
        }
        return parse(layout, id, root, created);
    }

    /** The sandbox of a parsed spec ({@link Json#parse}); anything but a pod sandbox's spec gives empty. */
    @SuppressWarnings("unchecked")
    static Optional<Sandbox> parse(CriLayout layout, String id, Object parsed, Instant created) {
        if (!(parsed instanceof Map<?, ?> m)) {
            return Optional.empty();
        }
        Map<String, Object> root = (Map<String, Object>) m;
        Map<String, String> annotations = new HashMap<>();
        Json.object(root, "annotations").forEach((k, v) -> {
            if (v instanceof String s) {
                annotations.put(k, s);
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
    @SuppressWarnings("unchecked")
    private static Optional<String> networkNamespace(Map<String, Object> root) {
        for (Object o : Json.array(Json.object(root, "linux"), "namespaces")) {
            if (o instanceof Map<?, ?> ns && "network".equals(ns.get("type"))) {
                String path = Json.string((Map<String, Object>) ns, "path");
                return path == null || path.isEmpty() ? Optional.empty() : Optional.of(path);
            }
        }
        return Optional.empty();
    }
}
