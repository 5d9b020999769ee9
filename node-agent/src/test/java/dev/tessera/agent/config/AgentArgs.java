package dev.tessera.agent.config;

import java.util.ArrayList;
import java.util.List;

/** The agent's command line for tests of one flag: the flags every run needs, then the ones under test. */
final class AgentArgs {

    /** What {@link AgentConfig#validate} asks for with the default --netns-source; parsing opens no file. */
    private static final List<String> REQUIRED = List.of("--node", "node1", "--node-ip", "198.18.0.1",
            "--controller", "198.18.0.254:15012", "--network", "/tmp/network.json");

    private AgentArgs() {}

    /** {@link AgentConfig#parse} of the required flags followed by {@code extra}. */
    static AgentConfig parse(String... extra) {
        List<String> all = new ArrayList<>(REQUIRED);
        all.addAll(List.of(extra));
        return AgentConfig.parse(all.toArray(String[]::new));
    }
}
