package dev.tessera.api.push;

/**
 * Which push-protocol versions each side speaks, and the negotiation between them (pure functions, so the
 * rule is table-tested on its own).
 *
 * <p>Version 1 is the protocol before negotiation existed: HELLO carries one version and the controller
 * answers with SNAPSHOT/DELTA directly. Version 2 adds a lowest version to HELLO and a WELCOME frame (the
 * version chosen) before the first SNAPSHOT/DELTA; every other frame is unchanged. The agent announces the
 * range it speaks, the controller picks the highest version in both ranges and tells the agent with WELCOME
 * (only when that version is 2 or higher: an agent of version 1 receives exactly the frames it always did).
 *
 * <p>Version 3 sends each node its own view ({@link NodeFrames}: NODE_SNAPSHOT and NODE_DELTA instead of
 * SNAPSHOT and DELTA with object changes): the node's own pods whole, every other pod in a compact routing
 * form. A session of version 1 or 2 still receives the whole mesh in the frames it always did.
 *
 * <p>Version 4 adds the other addresses of a dual-stack pod ({@link dev.tessera.api.model.Workload#otherIps()})
 * to the compact workloads of NODE_SNAPSHOT and NODE_DELTA (flag 64). A session of version 3 receives the
 * same frames without them (its agents capture IPv4 only); the whole form carries them in a reserved label
 * every version reads ({@link MeshCodec#OTHER_IPS_LABEL}).
 *
 * <p>Skew policy, as Istio's: the controller is upgraded first and serves agents of its own version and of
 * at least the one before ({@link #CONTROLLER}: versions 1 and 2 differ only in the handshake, so this build
 * still serves both); an agent speaks only its own version ({@link #AGENT}), so an agent newer than its
 * controller is refused with a message that says to upgrade the controller first.
 */
public final class ProtocolVersions {

    /** The version this build speaks natively; HELLO's {@code protocolVersion} field is the agent's highest. */
    public static final int CURRENT = 4;
    /** What this controller serves: its own version and the ones before, back to 1. */
    public static final Range CONTROLLER = new Range(1, CURRENT);
    /** What this agent speaks. */
    public static final Range AGENT = new Range(CURRENT, CURRENT);

    private ProtocolVersions() {}

    /**
     * A closed range of protocol versions.
     *
     * @param min lowest version, 1-65535
     * @param max highest version, {@code min}-65535
     */
    public record Range(int min, int max) {
        public Range {
            if (min < 1 || min > 65535) {
                throw new IllegalArgumentException("min: " + min + " (expected: 1-65535)");
            }
            if (max < min || max > 65535) {
                throw new IllegalArgumentException("max: " + max + " (expected: " + min + "-65535)");
            }
        }

        public boolean contains(int version) {
            return version >= min && version <= max;
        }

        @Override
        public String toString() {
            return min == max ? String.valueOf(min) : min + "-" + max;
        }
    }

    /** The highest version both ranges hold, or -1 when they share none. */
    public static int negotiate(Range a, Range b) {
        int v = Math.min(a.max(), b.max());
        return v >= Math.max(a.min(), b.min()) ? v : -1;
    }

    /** The controller's refusal of an agent that shares no version with it: what each speaks, what to upgrade. */
    public static String refusal(Range controller, Range agent) {
        String what = agent.min() > controller.max()
                ? "upgrade the controller first: it must speak protocol " + agent.min() + " or newer (a controller"
                        + " serves agents of its own protocol version and of at least the one before)"
                : "upgrade the agent: this controller no longer serves protocol " + agent.max()
                        + (agent.max() == agent.min() ? "" : " or older");
        return "agent speaks protocol versions " + agent + ", this controller " + controller
                + " (expected: an agent speaking one of " + controller + "; " + what + ")";
    }

    /** The agent's refusal of a controller that chose {@code chosen}, outside what the agent speaks. */
    public static String agentRefusal(Range agent, int chosen, Range controller) {
        return "controller chose protocol version " + chosen + " (it speaks " + controller + "), this agent speaks "
                + agent + " (expected: a controller speaking one of " + agent + "; "
                + (chosen > agent.max() ? "upgrade the agent" : "upgrade the controller") + ")";
    }

    /** The minimum and maximum as written by a peer, checked, as a range. */
    static Range read(String field, int min, int max) throws ProtocolException {
        if (max < 1) {
            throw new ProtocolException(field + ".protocolVersion: " + max + " (expected: 1-65535)");
        }
        if (min < 1 || min > max) {
            throw new ProtocolException(field + ".minProtocolVersion: " + min + " (expected: 1-" + max
                    + ", at most " + field + ".protocolVersion)");
        }
        return new Range(min, max);
    }
}
