package dev.tessera.agent.policy;

import static java.util.Objects.requireNonNull;

import dev.tessera.agent.redirect.PeerAuthProgram;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps the kernel's plaintext decisions ({@link PeerAuthProgram}'s {@code tsp_plain_rules}) and their metrics
 * ({@link PlaintextDecisions}) in step: each kernel entry's hits are credited to the decision it held when they
 * happened, so a sync first counts the hits so far, then replaces the entries and the decisions together; a scrape
 * counts the hits under the same lock.
 */
public final class PlaintextKernel {

    private static final Logger log = LoggerFactory.getLogger(PlaintextKernel.class);

    private final PeerAuthProgram program;
    private final PlaintextDecisions decisions;
    private final PolicyEnforcer policies;
    private final String node;

    public PlaintextKernel(PeerAuthProgram program, PlaintextDecisions decisions, PolicyEnforcer policies, String node) {
        this.program = requireNonNull(program, "program");
        this.decisions = requireNonNull(decisions, "decisions");
        this.policies = requireNonNull(policies, "policies");
        this.node = requireNonNull(node, "node");
    }

    /** A new state or policy set: the kernel gets this node's pods and compiled rules. */
    public void sync() {
        synchronized (decisions) {
            decisions.count(program.ruleHits()); // hits so far belong to the decisions being replaced
            var kernel = policies.kernelPolicy(node);
            program.sync(kernel.pods());
            decisions.expect(kernel.decisions());
        }
    }

    /** Before a scrape: credits the hits read from the kernel; never fails the scrape. */
    public void countHits() {
        synchronized (decisions) {
            try {
                decisions.count(program.ruleHits());
            } catch (RuntimeException e) { // e.g. the map closed by a shutdown: the scrape still answers
                log.debug("plaintext decisions not read: {}", e.toString());
            }
        }
    }
}
