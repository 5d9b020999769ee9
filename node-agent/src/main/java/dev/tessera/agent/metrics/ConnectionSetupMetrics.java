package dev.tessera.agent.metrics;

import static java.util.Objects.requireNonNull;

import dev.tessera.agent.connection.ConnectionContext.Direction;
import dev.tessera.agent.connection.ConnectionListener.SetupPhase;
import dev.tessera.agent.connection.ConnectionListener;
import io.prometheus.metrics.core.datapoints.DistributionDataPoint;
import io.prometheus.metrics.core.metrics.Histogram;
import io.prometheus.metrics.model.registry.PrometheusRegistry;

/**
 * {@code tessera_connection_setup_seconds}: how long a new connection waits inside the mesh before its bytes
 * flow, per {@code direction} (outbound: from the application's connection to 15001 being accepted;
 * inbound: from the CONNECT stream's arrival) and {@code phase}: {@code request} = until the client's first
 * bytes were relayed towards the destination, {@code response} = until the destination's first answer
 * bytes were relayed back (only for connections whose destination answers). One observation per
 * connection and phase. The four label sets are resolved once, so an observation allocates nothing.
 */
public final class ConnectionSetupMetrics implements ConnectionListener {

    /** Buckets from 100 µs to 5 s: a pooled tunnel adds well under a millisecond, a handshake a few. */
    static final double[] BUCKETS = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
        0.25, 0.5, 1, 2.5, 5};

    private final DistributionDataPoint[][] points = new DistributionDataPoint[2][2];

    ConnectionSetupMetrics(PrometheusRegistry registry) {
        Histogram h = Histogram.builder().name("tessera_connection_setup_seconds")
                .help("Time from accepting a connection (outbound) or its CONNECT (inbound) to relaying the "
                        + "client's first bytes upstream (phase=request) and the destination's first answer "
                        + "bytes back (phase=response)")
                .labelNames("direction", "phase")
                .classicUpperBounds(BUCKETS)
                .classicOnly()
                .withoutExemplars().register(requireNonNull(registry, "registry"));
        for (Direction d : Direction.values()) {
            for (SetupPhase p : SetupPhase.values()) {
                points[d.ordinal()][p.ordinal()] = h.labelValues(d == Direction.OUTBOUND ? "outbound" : "inbound",
                        p == SetupPhase.REQUEST ? "request" : "response");
            }
        }
    }

    @Override
    public void setup(Direction direction, SetupPhase phase, long nanos) {
        points[direction.ordinal()][phase.ordinal()].observe(Math.max(0, nanos) / 1e9);
    }
}
