/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Tessera PeerAuthentication (STRICT / PERMISSIVE mTLS): maps and structs of the ingress program
 * (peerauth.bpf.c). Kept apart from tessera_redirect.h on purpose: the program is built into its own
 * object, peerauth.bpf.o, loaded and pinned by dev.tessera.agent.redirect.PeerAuthProgram under
 * <pin dir>/peerauth/{maps,links}, so it never touches the redirect programs or their maps.
 *
 * Byte order: addresses in NETWORK order (as on the wire); counters and modes in host order.
 * Java mirror: PeerAuthProgram (encodes struct tsp_pod; sizes checked by PeerAuthProgramTest).
 */
#ifndef TESSERA_PEERAUTH_H
#define TESSERA_PEERAUTH_H

#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

/* cgroup_skb return codes. */
#define TSP_PASS 1
#define TSP_DROP 0

/* struct tsp_pod.mode */
#define TSP_MODE_PERMISSIVE 0
#define TSP_MODE_STRICT 1

/* Value of tsp_pods: one meshed pod of this node. */
struct tsp_pod {
	__u32 node_ip;    /* network order: the only plaintext source allowed in STRICT (agent, probes) */
	__u32 mode;       /* TSP_MODE_* (host order) */
	__u64 plaintext;  /* connection attempts (SYNs) accepted from outside the mesh (PERMISSIVE) */
	__u64 dropped;    /* connection attempts (SYNs) dropped (STRICT) */
	__u64 mesh;       /* connection attempts from the node (agent deliveries, probes) */
};
_Static_assert(sizeof(struct tsp_pod) == 32, "struct tsp_pod size");

/*
 * tsp_pods  HASH  key: __u32 pod IPv4 address (network order)  value: struct tsp_pod
 *   writer: agent (PeerAuthProgram.sync, from the effective PeerAuthentication of each local meshed pod;
 *           it keeps the counters when it rewrites the mode)
 *   reader: tsp_ingress (counts with atomic adds)
 *   Pods not in here are never touched.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct tsp_pod);
} tsp_pods SEC(".maps");

#endif /* TESSERA_PEERAUTH_H */
