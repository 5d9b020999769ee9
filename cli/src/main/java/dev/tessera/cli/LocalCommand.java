package dev.tessera.cli;

import picocli.CommandLine.Command;

/** {@code tessera local ...}: a cluster of network namespaces on this machine. */
@Command(name = "local", mixinStandardHelpOptions = true,
        description = "A local cluster of network namespaces, described by Kubernetes manifests.",
        subcommands = {LocalUp.class, LocalExec.class, LocalStatus.class, LocalRestartAgent.class, LocalRotateRoot.class,
                LocalDown.class})
final class LocalCommand implements Runnable {

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }
}
