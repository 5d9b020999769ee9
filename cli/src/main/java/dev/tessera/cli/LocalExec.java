package dev.tessera.cli;

import dev.tessera.cli.local.NetnsCluster;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code tessera local exec NAMESPACE/POD -- CMD ARGS...}: runs a program inside a pod's network namespace. */
@Command(name = "exec", mixinStandardHelpOptions = true,
        description = "Run a program inside a pod's network namespace (inherited stdio; exits with the program's code).")
final class LocalExec implements Callable<Integer> {

    @Option(names = "--name", description = "Cluster name (default: the only cluster, or 'tessera').")
    String name;

    @Parameters(index = "0", paramLabel = "NAMESPACE/POD")
    String target;

    @Parameters(index = "1..*", arity = "1..*", paramLabel = "CMD", description = "The program and its arguments.")
    List<String> command;

    @Override
    public Integer call() throws IOException, InterruptedException {
        NetnsCluster.requireRoot();
        NetnsCluster cluster = NetnsCluster.open(NetnsCluster.resolve(name));
        int slash = target.indexOf('/');
        String ns = slash < 0 ? "default" : target.substring(0, slash);
        String pod = slash < 0 ? target : target.substring(slash + 1);
        Path netns = cluster.podNetns(ns, pod);
        // Options stop at NAMESPACE/POD, so a "--" after it arrives here as the first word.
        List<String> program = !command.isEmpty() && command.get(0).equals("--") ? command.subList(1, command.size()) : command;
        if (program.isEmpty()) {
            throw new IllegalArgumentException("CMD: missing (expected: NAMESPACE/POD -- CMD ARGS...)");
        }
        var cmd = new ArrayList<String>(List.of("nsenter", "--net=" + netns, "--"));
        cmd.addAll(program);
        Process p = new ProcessBuilder(cmd).inheritIO().start();
        return p.waitFor();
    }
}
