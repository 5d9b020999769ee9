package dev.tessera.agent.redirect;

import static java.util.Objects.requireNonNull;

import dev.tessera.api.model.Workload;
import dev.tessera.api.netns.NetworkAttachments;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.Optional;

/**
 * Local mode: pod network namespaces as recorded by {@code tessera local up} in {@code network.json}.
 * The file is re-read when it changes.
 */
public final class LocalNetnsResolver implements PodNetnsResolver {

    private final Path file;
    private NetworkAttachments attachments;
    private FileTime readAt;

    public LocalNetnsResolver(Path networkFile) {
        this.file = requireNonNull(networkFile, "networkFile");
    }

    /** The attachments as last read (reading the file if it changed). */
    public synchronized NetworkAttachments attachments() {
        try {
            FileTime mtime = Files.getLastModifiedTime(file);
            if (attachments == null || !mtime.equals(readAt)) {
                attachments = NetworkAttachments.read(file);
                readAt = mtime;
            }
            return attachments;
        } catch (IOException e) {
            if (attachments != null) {
                return attachments;
            }
            throw new UncheckedIOException("network: cannot read " + file + " (expected: network.json written by"
                    + " `tessera local up`)", e);
        }
    }

    @Override
    public Optional<Path> netnsOf(Workload workload) {
        return attachments().pod(workload.namespace(), workload.name())
                .filter(p -> p.node().equals(workload.node()))
                .map(p -> Path.of(p.netns()));
    }
}
