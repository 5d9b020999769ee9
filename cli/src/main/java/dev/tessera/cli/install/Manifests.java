package dev.tessera.cli.install;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;
import org.yaml.snakeyaml.error.YAMLException;

/**
 * The install manifests shipped in the CLI jar: a copy of {@code daemonset/} made at build time, read in
 * the order its {@code kustomization.yaml} files list them (a directory entry is followed into its own
 * {@code kustomization.yaml}), so {@code tessera install} and {@code kubectl apply -k daemonset/} apply
 * the same objects.
 */
public final class Manifests {

    /** Classpath folder holding the copy of {@code daemonset/}. */
    public static final String ROOT = "dev/tessera/cli/install/manifests";

    private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());
    private static final KubernetesSerialization SERIALIZATION = new KubernetesSerialization();

    private Manifests() {}

    /** Every object, parsed with fabric8's model (kinds it does not know become generic resources). */
    public static List<HasMetadata> load() {
        List<HasMetadata> out = new ArrayList<>();
        for (String file : files()) {
            out.addAll(parse(file, read(file)));
        }
        return out;
    }

    /** The manifest files, as classpath paths relative to {@link #ROOT}, in kustomization order. */
    public static List<String> files() {
        List<String> out = new ArrayList<>();
        collect("", out);
        return out;
    }

    private static void collect(String dir, List<String> out) {
        String kustomization = dir + "kustomization.yaml";
        JsonNode k;
        try {
            k = YAML.readTree(read(kustomization));
        } catch (IOException e) {
            throw new UncheckedIOException(kustomization + ": unparsable", e);
        }
        for (JsonNode r : k.path("resources")) {
            String entry = r.asText();
            if (entry.endsWith(".yaml") || entry.endsWith(".yml")) {
                out.add(dir + entry);
            } else {
                collect(dir + entry + "/", out);
            }
        }
    }

    /** The text of one file relative to {@link #ROOT}. */
    public static String read(String file) {
        String path = ROOT + "/" + file;
        try (InputStream in = Manifests.class.getClassLoader().getResourceAsStream(path)) {
            if (in == null) {
                throw new IllegalStateException(path + ": missing from the CLI jar (expected: copied from daemonset/"
                        + " at build time)");
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(path, e);
        }
    }

    /**
     * The objects of one multi-document YAML text. Read with SnakeYAML, which resolves anchors and aliases
     * (the CRDs share schema fragments that way) as kubectl does; Jackson's YAML tree reader does not.
     */
    public static List<HasMetadata> parse(String source, String text) {
        List<HasMetadata> out = new ArrayList<>();
        try {
            for (Object doc : new Yaml(new SafeConstructor(new LoaderOptions())).loadAll(text)) {
                if (doc == null) {
                    continue;
                }
                if (!(doc instanceof Map<?, ?>)) {
                    throw new IllegalArgumentException(source + ": a " + doc.getClass().getSimpleName()
                            + " document (expected: Kubernetes objects)");
                }
                out.add(SERIALIZATION.convertValue(doc, HasMetadata.class));
            }
        } catch (YAMLException e) {
            throw new IllegalArgumentException(source + ": unparsable YAML: " + e.getMessage(), e);
        }
        return out;
    }

    /** Objects as one multi-document YAML stream, ready for {@code kubectl apply -f -}. */
    public static String toYaml(List<HasMetadata> objects) {
        StringBuilder b = new StringBuilder();
        for (HasMetadata o : objects) {
            String y = SERIALIZATION.asYaml(o);
            b.append(y.startsWith("---") ? y : "---\n" + y);
            if (!y.endsWith("\n")) {
                b.append('\n');
            }
        }
        return b.toString();
    }
}
