package dev.tessera.localcluster;

/**
 * A local cluster description is invalid. The message names the file, the object
 * ({@code kind namespace/name}), the field and the expected value, e.g.
 * {@code cluster.yaml: Pod default/client: spec.nodeName: 'node9' (expected: one of the Nodes node1, node2)}.
 */
public class InvalidClusterException extends IllegalArgumentException {

    private static final long serialVersionUID = 1L;

    public InvalidClusterException(String message) {
        super(message);
    }

    public InvalidClusterException(String message, Throwable cause) {
        super(message, cause);
    }
}
