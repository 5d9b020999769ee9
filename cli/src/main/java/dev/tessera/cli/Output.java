package dev.tessera.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLGenerator;
import dev.tessera.cli.observe.Check;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.util.List;

/** The {@code --output} choice shared by the operator commands: table, json or yaml (the same document as json). */
final class Output {

    /** An output format. */
    enum Format { TABLE, JSON, YAML }

    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
    private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory()
            .disable(YAMLGenerator.Feature.WRITE_DOC_START_MARKER).disable(YAMLGenerator.Feature.SPLIT_LINES)
            .enable(YAMLGenerator.Feature.MINIMIZE_QUOTES));

    private Output() {}

    /** table, json or yaml; anything else is a usage error (exit code 2). */
    static Format format(picocli.CommandLine.Model.CommandSpec spec, String output) {
        return switch (output) {
            case "json" -> Format.JSON;
            case "yaml" -> Format.YAML;
            case "table" -> Format.TABLE;
            default -> throw new picocli.CommandLine.ParameterException(spec.commandLine(),
                    "output: '" + output + "' (expected: table, json or yaml)");
        };
    }

    static String write(Object o) {
        return write(Format.JSON, o);
    }

    /** {@code o} as JSON or YAML (the same fields). */
    static String write(Format f, Object o) {
        try {
            return f == Format.YAML ? YAML.writeValueAsString(o) : JSON.writeValueAsString(o);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Prints a document: JSON ends with a newline, YAML already does. */
    static void print(Format f, Object o, PrintStream out) {
        String s = write(f, o);
        out.print(s.endsWith("\n") ? s : s + "\n");
        out.flush();
    }

    /** Same, to the command line's writer (the Kubernetes paths write there, so tests can read it). */
    static void print(Format f, Object o, PrintWriter out) {
        String s = write(f, o);
        out.print(s.endsWith("\n") ? s : s + "\n");
        out.flush();
    }

    /** {@link Check#print} to a writer. */
    static void printChecks(List<Check> checks, PrintWriter out) {
        var bytes = new ByteArrayOutputStream();
        Check.print(checks, new PrintStream(bytes, true, StandardCharsets.UTF_8));
        out.print(bytes.toString(StandardCharsets.UTF_8));
        out.flush();
    }
}
