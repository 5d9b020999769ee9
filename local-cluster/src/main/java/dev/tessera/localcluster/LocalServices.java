package dev.tessera.localcluster;

import dev.tessera.api.model.Service.Endpoint;
import dev.tessera.api.model.Service;
import dev.tessera.api.model.Workload;
import dev.tessera.kube.discovery.ServiceTranslator;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.ContainerPort;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The Services of a local cluster, playing the parts of the API server (cluster IPs, see
 * {@link LocalServiceVips}) and of the EndpointSlice controller: a Service with EndpointSlices in the
 * manifests (label {@code kubernetes.io/service-name}) takes its endpoints from them; one without gets an
 * endpoint per attached pod of its namespace matching its {@code spec.selector} (no selector: none),
 * ready while the pod's {@code status.phase} is absent or {@code Running} (a described pod is taken to
 * run), with the pod as target.
 */
final class LocalServices {

    private LocalServices() {}

    static List<Service> services(ClusterDescription cluster, List<Workload> workloads, List<String> warnings) {
        var svcs = new ArrayList<io.fabric8.kubernetes.api.model.Service>();
        for (HasMetadata o : cluster.others("Service")) {
            svcs.add((io.fabric8.kubernetes.api.model.Service) o);
        }
        var slicesByService = new HashMap<String, List<EndpointSlice>>();
        for (HasMetadata o : cluster.others("EndpointSlice")) {
            EndpointSlice slice = (EndpointSlice) o;
            ServiceTranslator.serviceOf(slice).ifPresent(name -> slicesByService
                    .computeIfAbsent(slice.getMetadata().getNamespace() + "/" + name, k -> new ArrayList<>()).add(slice));
        }
        var byKey = new HashMap<String, Workload>();
        workloads.forEach(w -> byKey.put(w.key(), w));
        // once, not a scan of every pod per Service: the pods of each namespace that are in the snapshot
        var podsByNamespace = new HashMap<String, List<Pod>>();
        for (Pod p : cluster.pods()) {
            String ns = p.getMetadata().getNamespace();
            if (byKey.containsKey(ns + "/" + p.getMetadata().getName())) {
                podsByNamespace.computeIfAbsent(ns, k -> new ArrayList<>()).add(p);
            }
        }
        Map<String, List<InetAddress>> vips = LocalServiceVips.allocate(svcs);
        var out = new ArrayList<Service>();
        for (var svc : svcs) {
            String key = LocalServiceVips.key(svc);
            List<EndpointSlice> slices = slicesByService.getOrDefault(key, List.of());
            List<Pod> selected = slices.isEmpty() ? selected(podsByNamespace, svc) : List.of();
            Optional<Service> s = ServiceTranslator.translate(svc, vips.getOrDefault(key, List.of()), slices,
                    portName -> containerPort(selected, portName), warnings);
            if (s.isEmpty()) {
                continue;
            }
            if (slices.isEmpty()) {
                var eps = new ArrayList<Endpoint>();
                for (Pod p : selected) {
                    Workload w = byKey.get(p.getMetadata().getNamespace() + "/" + p.getMetadata().getName());
                    String phase = p.getStatus() == null ? null : p.getStatus().getPhase();
                    eps.add(new Endpoint(w.ip(), phase == null || "Running".equals(phase), w.key()));
                }
                s = Optional.of(new Service(s.get().namespace(), s.get().name(), s.get().vips(), s.get().ports(), eps));
            }
            out.add(s.get());
        }
        var podIps = new java.util.HashSet<InetAddress>();
        workloads.forEach(w -> podIps.add(w.ip()));
        return ServiceTranslator.withoutConflicts(out, podIps, warnings);
    }

    /** Pods of the Service's namespace matched by its selector (of those in the mesh snapshot), by name. */
    private static List<Pod> selected(Map<String, List<Pod>> podsByNamespace, io.fabric8.kubernetes.api.model.Service svc) {
        Map<String, String> selector = svc.getSpec() == null ? null : svc.getSpec().getSelector();
        if (selector == null || selector.isEmpty()) {
            return List.of();
        }
        var out = new ArrayList<Pod>();
        for (Pod p : podsByNamespace.getOrDefault(svc.getMetadata().getNamespace(), List.of())) {
            if (matches(selector, p.getMetadata().getLabels())) { // a loop, not a stream per pod: 200,000 per edit
                out.add(p);
            }
        }
        out.sort(java.util.Comparator.comparing(p -> p.getMetadata().getName()));
        return out;
    }

    private static boolean matches(Map<String, String> selector, Map<String, String> labels) {
        for (var e : selector.entrySet()) {
            if (labels == null || !e.getValue().equals(labels.get(e.getKey()))) {
                return false;
            }
        }
        return true;
    }

    /** The number of a named container port among the pods (the first pod declaring it). */
    private static Optional<Integer> containerPort(List<Pod> pods, String name) {
        for (Pod p : pods) {
            if (p.getSpec() == null || p.getSpec().getContainers() == null) {
                continue;
            }
            for (Container c : p.getSpec().getContainers()) {
                for (ContainerPort cp : c.getPorts() == null ? List.<ContainerPort>of() : c.getPorts()) {
                    if (name.equals(cp.getName()) && cp.getContainerPort() != null) {
                        return Optional.of(cp.getContainerPort());
                    }
                }
            }
        }
        return Optional.empty();
    }
}
