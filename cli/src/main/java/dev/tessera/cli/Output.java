package dev.tessera.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;

/** The {@code --output} choice shared by the operator commands. */
final class Output {

    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private Output() {}

    /** True for json, false for table; anything else is a usage error (exit code 2). */
    static boolean json(picocli.CommandLine.Model.CommandSpec spec, String output) {
        return switch (output) {
            case "json" -> true;
            case "table" -> false;
            default -> throw new picocli.CommandLine.ParameterException(spec.commandLine(),
                    "output: '" + output + "' (expected: table or json)");
        };
    }

    static String write(Object o) {
        try {
            return JSON.writeValueAsString(o);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }
}
