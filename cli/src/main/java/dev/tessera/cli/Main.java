package dev.tessera.cli;

import java.io.PrintWriter;
import picocli.CommandLine.Command;
import picocli.CommandLine;

/**
 * The {@code tessera} command line: {@code local up|exec|status|down} for a cluster of network
 * namespaces on this machine, {@code demo}, and the operator tools {@code check [--pre]}, {@code stat} and
 * {@code config NODE}, {@code install} (Kubernetes manifests), {@code version} and {@code completion}; against a
 * Kubernetes cluster through a kubeconfig ({@code --kube}, {@code --kubeconfig}, {@code --context},
 * {@code --namespace}: {@link KubeOptions}) {@code check [--pre]}, {@code stat}, {@code version},
 * {@code proxy-status} and {@code uninstall}. Exit codes: 0 ok, 1 failure (a check failed, an agent unreachable),
 * 2 usage error.
 */
@Command(name = "tessera", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        description = "Sidecar-less, node-level service mesh: local playground and tools.",
        subcommands = {LocalCommand.class, DemoCommand.class, CheckCommand.class, StatCommand.class,
            ConfigCommand.class, ProxyStatusCommand.class, InstallCommand.class, UninstallCommand.class,
            VersionCommand.class, CompletionCommand.class})
public final class Main implements Runnable {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    /** {@code tessera --version}: this build's version, as {@code tessera version --client} prints it. */
    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            return new String[] {"tessera " + dev.tessera.api.config.BuildInfo.VERSION};
        }
    }

    /** The configured command line (also used by tests). */
    public static CommandLine commandLine() {
        var cl = new CommandLine(new Main());
        cl.registerConverter(java.time.Duration.class, s -> dev.tessera.api.config.Durations.parse("duration", s));
        // Everything after NAMESPACE/POD belongs to the program, options included.
        cl.getSubcommands().get("local").getSubcommands().get("exec").setStopAtPositional(true);
        cl.setExecutionExceptionHandler((ex, line, parse) -> {
            PrintWriter err = line.getErr();
            err.println("error: " + (ex.getMessage() == null ? ex.toString() : ex.getMessage()));
            if (Boolean.getBoolean("tessera.debug")) {
                ex.printStackTrace(err);
            }
            err.flush();
            return 1;
        });
        return cl;
    }

    public static void main(String[] args) {
        System.exit(commandLine().execute(args));
    }
}
