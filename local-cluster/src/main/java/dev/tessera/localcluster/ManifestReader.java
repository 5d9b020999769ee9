package dev.tessera.localcluster;

import static java.util.Objects.requireNonNull;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Namespace;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Stream;

/**
 * Reads Kubernetes manifests (a multi-document YAML or JSON file, or a folder of {@code .yaml},
 * {@code .yml} and {@code .json} files) into fabric8 model objects, checking {@code apiVersion} and
 * {@code kind} against the kinds a local cluster understands. A {@code kind: List} is unpacked.
 */
final class ManifestReader {

    /** A parsed object with where it came from. */
    record Manifest(String source, HasMetadata object) {}

    /** The accepted kinds, their apiVersion and their model class (generic for the policy CRDs). */
    private static final Map<String, Kind> KINDS = Map.of(
            "Node", new Kind("v1", Node.class),
            "Namespace", new Kind("v1", Namespace.class),
            "Pod", new Kind("v1", Pod.class),
            "Service", new Kind("v1", Service.class),
            "EndpointSlice", new Kind("discovery.k8s.io/v1", EndpointSlice.class),
            "AuthorizationPolicy", new Kind("security.tessera.dev/v1alpha1", GenericKubernetesResource.class),
            "PeerAuthentication", new Kind("security.tessera.dev/v1alpha1", GenericKubernetesResource.class));

    /** The kinds in the order error messages list them. */
    static final List<String> KIND_ORDER = List.of(
            "Node", "Namespace", "Pod", "Service", "EndpointSlice", "AuthorizationPolicy", "PeerAuthentication");

    private record Kind(String apiVersion, Class<? extends HasMetadata> type) {}

    private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());
    private static final KubernetesSerialization SERIALIZATION = new KubernetesSerialization();

    private ManifestReader() {}

    /** The manifest files of a path: the file itself, or a folder's visible manifest files by name. */
    static List<Path> files(Path fileOrFolder) throws IOException {
        requireNonNull(fileOrFolder, "fileOrFolder");
        if (!Files.exists(fileOrFolder)) {
            throw new IOException(fileOrFolder + ": not found (expected: a manifest file or a folder of them)");
        }
        if (!Files.isDirectory(fileOrFolder)) {
            return List.of(fileOrFolder);
        }
        try (Stream<Path> s = Files.list(fileOrFolder)) {
            return s.filter(Files::isRegularFile).filter(ManifestReader::isManifestFile).sorted().toList();
        }
    }

    static boolean isManifestFile(Path p) {
        String n = p.getFileName().toString().toLowerCase(Locale.ROOT);
        return !n.startsWith(".") && (n.endsWith(".yaml") || n.endsWith(".yml") || n.endsWith(".json"));
    }

    /** Every object of a file or folder, in file order then document order. */
    static List<Manifest> read(Path fileOrFolder) throws IOException {
        var out = new ArrayList<Manifest>();
        for (Path file : files(fileOrFolder)) {
            out.addAll(read(file.getFileName().toString(), Files.readString(file)));
        }
        return out;
    }

    /** Every object of one text; {@code source} names it in errors. JSON is valid YAML. */
    static List<Manifest> read(String source, String text) {
        var out = new ArrayList<Manifest>();
        for (Tree t : trees(source, text)) {
            out.add(convert(source, t.where(), t.node()));
        }
        return out;
    }

    /** One parsed document (or List item) and where it is, for error messages. */
    record Tree(String where, JsonNode node) {}

    /** The YAML documents of one text, List items expanded, empty documents dropped. */
    static List<Tree> trees(String source, String text) {
        var out = new ArrayList<Tree>();
        int doc = 0;
        try (JsonParser parser = YAML.getFactory().createParser(text)) {
            var it = YAML.readValues(parser, JsonNode.class);
            while (it.hasNextValue()) {
                JsonNode node = it.nextValue();
                doc++;
                if (node == null || node.isNull() || node.isMissingNode()) {
                    continue; // empty document, e.g. a trailing "---"
                }
                String where = source + " (document " + doc + ")";
                if (!node.isObject()) {
                    throw new InvalidClusterException(where + ": " + node.getNodeType().toString().toLowerCase(Locale.ROOT)
                            + " (expected: a Kubernetes object with apiVersion, kind and metadata)");
                }
                if ("List".equals(node.path("kind").asText())) {
                    int i = 0;
                    for (JsonNode item : node.path("items")) {
                        out.add(new Tree(where + " items[" + i++ + "]", item));
                    }
                } else {
                    out.add(new Tree(where, node));
                }
            }
        } catch (IOException | RuntimeException e) {
            if (e instanceof InvalidClusterException ice) {
                throw ice;
            }
            throw new InvalidClusterException(source + (doc > 0 ? " (document " + (doc + 1) + ")" : "")
                    + ": unparsable: " + firstLine(e.getMessage()) + " (expected: YAML or JSON Kubernetes objects)", e);
        }
        return out;
    }

    /**
     * The objects of a file or folder, kept between reads: a file is parsed and converted again only when its
     * size or modification time changed, so an edit of one file among a thousand costs one file's parse and
     * conversion, not the cluster's. Objects of unchanged files are the same instances as in the previous read:
     * {@link ClusterValidator} fills in defaults (namespace, service account) only where a field is absent, which
     * an object that has been validated once no longer has, so a shared object is never written again after the
     * description holding it was built. Not thread-safe.
     */
    static final class TreeCache {
        private record Entry(long size, java.nio.file.attribute.FileTime modified, List<Manifest> manifests) {}

        private final Map<Path, Entry> entries = new java.util.HashMap<>();
        private long parses;

        /** Every object of {@code fileOrFolder}, as {@link ManifestReader#read(Path)} gives them. */
        List<Manifest> read(Path fileOrFolder) throws IOException {
            var out = new ArrayList<Manifest>();
            var seen = new java.util.HashSet<Path>();
            for (Path file : files(fileOrFolder)) {
                seen.add(file);
                long size = Files.size(file);
                var modified = Files.getLastModifiedTime(file);
                Entry e = entries.get(file);
                if (e == null || e.size() != size || !e.modified().equals(modified)) {
                    // a file that fails to parse or convert is not kept: the next read tries it again
                    entries.remove(file);
                    e = new Entry(size, modified, List.copyOf(ManifestReader.read(file.getFileName().toString(),
                            Files.readString(file))));
                    parses++;
                    entries.put(file, e);
                }
                out.addAll(e.manifests());
            }
            entries.keySet().retainAll(seen);
            return out;
        }

        /** How many files were parsed so far (for tests). */
        long parses() {
            return parses;
        }
    }

    private static Manifest convert(String source, String where, JsonNode node) {
        if (!node.isObject()) {
            throw new InvalidClusterException(where + ": not an object (expected: a Kubernetes object)");
        }
        String kind = node.path("kind").asText("");
        String name = node.path("metadata").path("name").asText("");
        String namespace = node.path("metadata").path("namespace").asText("");
        String label = kind.isEmpty() ? where : source + ": " + kind + " "
                + (namespace.isEmpty() ? "" : namespace + "/") + (name.isEmpty() ? "(unnamed)" : name);
        Kind k = KINDS.get(kind);
        if (k == null) {
            throw new InvalidClusterException(where + ": kind: '" + kind + "' (expected: one of " + String.join(", ", KIND_ORDER) + ")");
        }
        String apiVersion = node.path("apiVersion").asText("");
        if (!k.apiVersion().equals(apiVersion)) {
            throw new InvalidClusterException(label + ": apiVersion: '" + apiVersion + "' (expected: " + k.apiVersion() + ")");
        }
        if (name.isEmpty()) {
            throw new InvalidClusterException(where + ": " + kind + ": metadata.name: missing (expected: a name)");
        }
        try {
            return new Manifest(source, SERIALIZATION.convertValue((ObjectNode) node, k.type()));
        } catch (IllegalArgumentException e) {
            throw new InvalidClusterException(label + ": " + firstLine(e.getMessage())
                    + " (expected: a valid " + kind + " " + k.apiVersion() + ")", e);
        }
    }

    private static String firstLine(String s) {
        if (s == null) {
            return "";
        }
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }
}
