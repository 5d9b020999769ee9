package dev.tessera.agent.redirect;

import java.io.IOException;
import java.nio.file.Path;

/** What the agent sets in the network namespace of a pod it enrolls (see {@link TimeWaitReuse}). */
@FunctionalInterface
public interface PodTuning {

    /** Applies the setting to the pod {@code pod} ({@code namespace/name}) whose namespace is {@code netns}. */
    void apply(String pod, Path netns) throws IOException;
}
