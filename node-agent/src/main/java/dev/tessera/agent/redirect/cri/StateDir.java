package dev.tessera.agent.redirect.cri;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One runtime's state directory and the sandboxes read from it. The listing is redone only when the
 * directory's modification time changes (a container directory was added or removed), or while that time
 * is too close to the last scan to be trusted (file-system timestamps can be coarser than the changes:
 * "racy" like git's index). Specs are parsed once per container id; a container whose spec is missing or
 * unreadable (being written) is retried when the spec's own time changes.
 */
final class StateDir {

    private static final Logger log = LoggerFactory.getLogger(StateDir.class);
    /** A directory time this close to the last scan may hide a later change made in the same tick. */
    static final Duration RACY = Duration.ofSeconds(2);

    private final CriLayout layout;
    private final Path dir;
    /** container id -> its sandbox, or empty for containers that are not (network-namespaced) sandboxes. */
    private final Map<String, Optional<Sandbox>> known = new HashMap<>();
    /** container id -> modification time of a spec that could not be read yet (null: no spec yet). */
    private final Map<String, FileTime> pending = new HashMap<>();
    private FileTime scannedTime;
    private Instant scannedAt;

    StateDir(CriLayout layout, Path dir) {
        this.layout = layout;
        this.dir = dir;
    }

    CriLayout layout() {
        return layout;
    }

    Path dir() {
        return dir;
    }

    List<Sandbox> sandboxes() {
        List<Sandbox> out = new ArrayList<>();
        known.values().forEach(s -> s.ifPresent(out::add));
        return out;
    }

    /** Brings the cache up to date; true when the set of sandboxes changed. */
    boolean refresh() throws IOException {
        if (!Files.isDirectory(dir)) {
            boolean had = !known.isEmpty();
            known.clear();
            pending.clear();
            scannedTime = null;
            return had;
        }
        FileTime mtime;
        try {
            mtime = Files.getLastModifiedTime(dir);
        } catch (NoSuchFileException e) {
            return false; // removed between the two calls: the next refresh clears
        }
        Instant now = Instant.now();
        boolean racy = scannedAt == null || Duration.between(mtime.toInstant(), scannedAt).compareTo(RACY) < 0;
        boolean changed = false;
        if (!mtime.equals(scannedTime) || racy) {
            changed = rescan();
        }
        scannedTime = mtime;
        scannedAt = now;
        changed |= retryPending();
        return changed;
    }

    private boolean rescan() throws IOException {
        Set<String> ids = new HashSet<>();
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(dir, Files::isDirectory)) {
            entries.forEach(p -> ids.add(p.getFileName().toString()));
        } catch (NoSuchFileException e) {
            // gone meanwhile: treated as empty
        }
        boolean changed = false;
        for (var it = known.entrySet().iterator(); it.hasNext(); ) {
            var e = it.next();
            if (!ids.contains(e.getKey())) {
                it.remove();
                if (e.getValue().isPresent()) {
                    log.debug("{} sandbox {} of pod {} is gone", layout.runtime(), e.getKey(), e.getValue().get().podKey());
                    changed = true;
                }
            }
        }
        pending.keySet().retainAll(ids);
        for (String id : ids) {
            if (!known.containsKey(id) && !pending.containsKey(id)) {
                changed |= read(id);
            }
        }
        return changed;
    }

    private boolean retryPending() {
        boolean changed = false;
        for (String id : new ArrayList<>(pending.keySet())) {
            FileTime before = pending.get(id);
            FileTime now = specTime(id);
            if (now != null && !now.equals(before)) {
                changed |= read(id);
            }
        }
        return changed;
    }

    /** Reads container {@code id}'s spec; true when it is a sandbox. */
    private boolean read(String id) {
        Path spec = layout.specOf(dir, id);
        FileTime time = specTime(id);
        if (time == null) {
            pending.put(id, null);
            return false;
        }
        try {
            Optional<Sandbox> s = SandboxSpecs.read(layout, id, spec);
            known.put(id, s);
            pending.remove(id);
            s.ifPresent(x -> log.debug("{} sandbox {} of pod {}: netns {}", layout.runtime(), id, x.podKey(), x.netns()));
            return s.isPresent();
        } catch (IOException e) {
            pending.put(id, time); // partly written, or not JSON: retried when it changes
            return false;
        }
    }

    private FileTime specTime(String id) {
        try {
            return Files.getLastModifiedTime(layout.specOf(dir, id));
        } catch (IOException e) {
            return null;
        }
    }
}
