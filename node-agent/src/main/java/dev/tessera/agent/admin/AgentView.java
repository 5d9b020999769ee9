package dev.tessera.agent.admin;

import dev.tessera.agent.config.AgentConfig;
import dev.tessera.agent.identity.CertificateManager;
import dev.tessera.agent.metrics.AgentMetrics;
import dev.tessera.agent.metrics.CoverageCheck;
import dev.tessera.agent.policy.PolicyEnforcer;
import dev.tessera.agent.redirect.BpfRedirector;
import dev.tessera.agent.redirect.Enrollment;
import dev.tessera.agent.state.StateStore;
import java.util.List;
import java.util.Map;

/**
 * What the admin API ({@link AdminRoutes}) may see of a running agent: read-only access to its parts. Parts
 * not started yet (the admin API starts before capture) are {@code null}.
 */
public interface AgentView {

    AgentConfig config();

    StateStore state();

    PolicyEnforcer policies();

    AgentMetrics metrics();

    Enrollment enrollment();

    CoverageCheck coverage();

    CertificateManager certificates();

    BpfRedirector redirector();

    /** The data path's connection counters (transport, opened/active by direction, close reasons). */
    Map<String, Object> connectionStats();

    /** Unmet readiness conditions; empty when ready. */
    List<String> unmetReadiness();
}
