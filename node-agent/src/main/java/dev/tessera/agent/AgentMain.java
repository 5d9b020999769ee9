package dev.tessera.agent;

import dev.tessera.agent.config.AgentConfig;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine;

/** Command line of the node agent: the {@link AgentConfig} options, and the uninstall mode. */
@Command(name = "tessera-node-agent", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Tessera node agent: eBPF capture, HBONE mTLS tunnels, L4 policy, metrics.")
public final class AgentMain implements Callable<Integer> {

    @Mixin
    AgentConfig config;

    @Option(names = "--uninstall", description = "Detach every program and remove every pin under --bpf-pin-dir, then"
            + " exit (meshed pods' traffic goes direct again). Uninstall only: an agent restart keeps capture pinned.")
    boolean uninstall;

    @Option(names = "--then-wait", description = "With --uninstall: keep running until terminated (the cleanup"
            + " DaemonSet's main container).")
    boolean thenWait;

    @Override
    public Integer call() throws Exception {
        try {
            config.applyLogging(); // before anything logs: a bad value fails start-up naming the flag
        } catch (IllegalArgumentException e) {
            throw new CommandLine.ParameterException(new CommandLine(this), e.getMessage());
        }
        if (uninstall) {
            config.validateReplyRouting();
            dev.tessera.agent.redirect.ReplyRouting.uninstall(config.replyMark(), config.replyRouteTable());
            dev.tessera.agent.redirect.ProbeSnat.uninstall();
            return uninstall(config.bpfPinDir());
        }
        try {
            config.validate();
        } catch (IllegalArgumentException e) {
            throw new CommandLine.ParameterException(new CommandLine(this), e.getMessage());
        }
        NodeAgent agent = NodeAgent.start(config);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            agent.shutdown(config.drainTimeout());
            // the drain's last lines and the access-log records of the connections it cut, before the VM halts
            dev.tessera.logging.TesseraLogging.registry().flush();
        }, "agent-shutdown"));
        agent.awaitTermination();
        return 0;
    }

    /** Detaches and unpins everything a previous agent left under the pin directory. */
    private int uninstall(Path bpfPinDir) throws InterruptedException {
        dev.tessera.agent.redirect.BpfRedirector.uninstall(bpfPinDir); // with the STRICT program's pins
        System.out.println("tessera-node-agent: detached every program, removed the pins under " + bpfPinDir
                + " and the reply routing");
        if (thenWait) {
            var done = new java.util.concurrent.CountDownLatch(1);
            Runtime.getRuntime().addShutdownHook(new Thread(done::countDown, "uninstall-exit"));
            done.await();
        }
        return 0;
    }

    /** The usage text (every flag with its default), as {@code --help} prints it. */
    public static String usage() {
        return new CommandLine(new AgentMain()).setUsageHelpWidth(110).getUsageMessage(CommandLine.Help.Ansi.OFF);
    }

    public static void main(String[] args) {
        System.exit(new CommandLine(new AgentMain()).setUsageHelpWidth(110).execute(args));
    }
}
