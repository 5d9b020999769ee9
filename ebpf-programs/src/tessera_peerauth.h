/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Tessera PeerAuthentication (STRICT / PERMISSIVE mTLS) and the L4 AuthorizationPolicy of plaintext
 * connections: maps and structs of the ingress program (peerauth.bpf.c). Kept apart from tessera_redirect.h on purpose: the program is built into its own
 * object, peerauth.bpf.o, loaded and pinned by dev.tessera.agent.redirect.PeerAuthProgram under
 * <pin dir>/peerauth/{maps,links}, so it never touches the redirect programs or their maps.
 *
 * Byte order: addresses in NETWORK order (as on the wire); counters and modes in host order.
 * Java mirror: PeerAuthProgram (encodes struct tsp_pod, struct tsp_plain_key and struct tsp_plain_verdict,
 * their IPv6 counterparts tsp_pod6, tsp_plain_key6, tsp_delivery_key6 and tsp_plain_event6; sizes checked by
 * PeerAuthProgramTest).
 *
 * IPv4 and IPv6 have maps of their own (the *6 maps at the end): the IPv4 maps keep the layout older agents
 * pinned, and an IPv6 key is no IPv4 key made longer. A dual-stack pod is in both: tsp_pods under its IPv4
 * address, tsp_pods6 under its IPv6 address, with the same mode and its plaintext rules compiled per family.
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

/* struct tsp_pod.flags */
#define TSP_POD_PLAIN_RULES 0x1 /* plaintext SYNs are decided by tsp_plain_rules (a miss drops) */

/*
 * Value of tsp_pods: one meshed pod of this node. mode and flags share what was one __u32 mode before
 * plaintext rules existed, so the value keeps its size (32) and a map pinned by an older agent is reused.
 */
struct tsp_pod {
	__u32 node_ip;    /* network order: the trusted probe source (the SNAT probe address; the node IP only
	                   * when the agent could not install that SNAT); name kept from when it was the node IP */
	__u16 mode;       /* TSP_MODE_* (host order) */
	__u16 flags;      /* TSP_POD_* (host order) */
	__u64 plaintext;  /* connection attempts (SYNs) accepted from outside the mesh (PERMISSIVE) */
	__u64 dropped;    /* connection attempts (SYNs) dropped: STRICT, or denied by tsp_plain_rules */
	__u64 mesh;       /* connection attempts of the mesh: agent deliveries, probes, the pod itself */
};
_Static_assert(sizeof(struct tsp_pod) == 32, "struct tsp_pod size");

/*
 * Key of tsp_plain_rules. The LPM data is everything after prefixlen, compared bytewise in this order:
 * pod address (32 bits), destination port (16, network order), pad (16, always 0), source address (0-32
 * bits). prefixlen = 64 + the source prefix length, so an entry always matches pod and port exactly.
 * Port 0 is "any port that no rule of the pod names".
 */
struct tsp_plain_key {
	__u32 prefixlen;
	__u32 pod_ip;     /* network order */
	__u16 port;       /* network order; 0 = other ports */
	__u16 pad;        /* 0 */
	__u32 src_ip;     /* network order, the source network */
};
_Static_assert(sizeof(struct tsp_plain_key) == 16, "struct tsp_plain_key size");

/* struct tsp_plain_verdict.allow */
#define TSP_PLAIN_DENY 0
#define TSP_PLAIN_ALLOW 1

/* Value of tsp_plain_rules. */
struct tsp_plain_verdict {
	__u32 allow;      /* TSP_PLAIN_* (host order) */
	__u32 pad;
	__u64 hits;       /* SYNs decided by this entry (atomic adds; the agent turns them into metrics) */
};
_Static_assert(sizeof(struct tsp_plain_verdict) == 16, "struct tsp_plain_verdict size");

/* Bits of tsp_plain_key's LPM data before the source address. */
#define TSP_PLAIN_FIXED_BITS 64

/*
 * tsp_pods  HASH  key: __u32 pod IPv4 address (network order)  value: struct tsp_pod
 *   writer: agent (PeerAuthProgram.sync, from the effective PeerAuthentication of each local meshed pod;
 *           it keeps the counters when it rewrites the mode)
 *   reader: tsp_ingress (counts with atomic adds)
 *   Pods not in here are never touched.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096); /* the default; the agent sets it from --max-pods before load */
	__type(key, __u32);
	__type(value, struct tsp_pod);
} tsp_pods SEC(".maps");

/*
 * tsp_plain_rules  LPM_TRIE  key: struct tsp_plain_key  value: struct tsp_plain_verdict
 *   writer: agent (PeerAuthProgram.sync, compiled by dev.tessera.agent.policy.PlaintextPolicy from the
 *           AuthorizationPolicies selecting each PERMISSIVE local meshed pod: for every port a rule names
 *           and port 0, one entry per source network any rule names plus 0.0.0.0/0, each holding the real
 *           Authorizer's decision for a source without identity in that network; stale entries removed)
 *   reader: tsp_ingress, only for pods whose tsp_pod.flags has TSP_POD_PLAIN_RULES (counts hits)
 *   Full (16,384 entries): the agent gives the pods that do not fit the flag and no entries (every
 *   plaintext SYN to them misses and is dropped: fail closed) and fails readiness naming them.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 16384);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct tsp_plain_key);
	__type(value, struct tsp_plain_verdict);
} tsp_plain_rules SEC(".maps");

/*
 * Key of tsp_deliveries: one connection the node agent dials to a local pod from the CLIENT pod's address
 * (IP_TRANSPARENT), as its SYN carries it. All fields in network order.
 */
struct tsp_delivery_key {
	__u32 saddr;      /* the client pod (the address the agent bound) */
	__u32 daddr;      /* the local pod */
	__u16 sport;
	__u16 dport;
};
_Static_assert(sizeof(struct tsp_delivery_key) == 12, "struct tsp_delivery_key size");

/*
 * tsp_deliveries  LRU_HASH (65536)  key: struct tsp_delivery_key  value: __u32 1
 *   writer: agent (PeerAuthProgram.deliveries(): after bind(), before connect(); deleted when the
 *           connection closes; LRU bounds what a crashed agent leaves behind)
 *   reader: tsp_ingress: a SYN whose 4-tuple is in here is the agent's delivery after mTLS or the
 *           same-node policy check, never plaintext, whatever its source address. Only a process that can
 *           write this pinned map (root on the node) can make a SYN pass this way.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct tsp_delivery_key);
	__type(value, __u32);
} tsp_deliveries SEC(".maps");

/* struct tsp_plain_event.verdict: how tsp_ingress decided one plaintext connection attempt. */
#define TSP_PLAIN_EV_ALLOWED 1    /* passed by a tsp_plain_rules entry */
#define TSP_PLAIN_EV_DENIED 2     /* dropped by a tsp_plain_rules entry or a miss (policy denial) */
#define TSP_PLAIN_EV_STRICT 3     /* dropped: the pod is STRICT */
#define TSP_PLAIN_EV_PERMISSIVE 4 /* passed: PERMISSIVE and no policy selects the pod */

/*
 * Value of tsp_plain_events: one plaintext SYN (never any other packet) to a meshed pod, as decided.
 * Addresses and ports in network order. A client's retransmitted SYN is a new event.
 */
struct tsp_plain_event {
	__u32 src_ip;
	__u32 pod_ip;
	__u16 sport;
	__u16 dport;
	__u8 verdict;     /* TSP_PLAIN_EV_* */
	__u8 pad[3];
};
_Static_assert(sizeof(struct tsp_plain_event) == 16, "struct tsp_plain_event size");

/*
 * tsp_plain_events  QUEUE (4096)  value: struct tsp_plain_event
 *   writer: tsp_ingress (bpf_map_push_elem at each plaintext decision; when full the event is lost and
 *           counted in tsp_plain_events_lost: the queue is the rate bound, a SYN flood cannot grow it)
 *   reader: agent (PeerAuthProgram.drainPlainEvents: BPF_MAP_LOOKUP_AND_DELETE_ELEM, at each tsp_plain_bell)
 *           -> access log and istio_tcp_* with connection_security_policy="none"
 */
struct {
	__uint(type, BPF_MAP_TYPE_QUEUE);
	__uint(max_entries, 4096);
	__type(value, struct tsp_plain_event);
} tsp_plain_events SEC(".maps");

/*
 * tsp_plain_events_lost  ARRAY (1)  key: __u32 0  value: __u64 events not queued (tsp_plain_events or
 *   tsp_plain_events6 full)
 *   writer: tsp_ingress (atomic add)   reader: agent (PeerAuthProgram.plainEventsLost)
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} tsp_plain_events_lost SEC(".maps");

/*
 * tsp_plain_bell  RINGBUF (one page)  records: 8 bytes, contents unused
 *   writer: tsp_ingress (after each event queued in tsp_plain_events or tsp_plain_events6)
 *   reader: agent (PlaintextEvents through RingBell.await: sleeps in epoll_wait on this map, then moves the
 *           consumer position to the producer's and drains both queues). A doorbell, not a channel: the events stay in
 *           the queues (bounded, counted when lost), and an idle agent wakes for none. A full ring loses a
 *           doorbell only while the agent has one to answer already.
 */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} tsp_plain_bell SEC(".maps");

/* ------------------------------------------------------------------------------------------------ IPv6 */

/* An IPv6 address, network order (as in the header). */
struct tsp_in6 {
	__u32 a[4];
};
_Static_assert(sizeof(struct tsp_in6) == 16, "struct tsp_in6 size");

/*
 * Value of tsp_pods6: one meshed pod of this node under its IPv6 address; tsp_pod's fields with a 16-byte
 * trusted address.
 */
struct tsp_pod6 {
	struct tsp_in6 probe_ip; /* the trusted probe source (the IPv6 probe SNAT address, or the node's IPv6
	                          * address when that SNAT is not in place); all zero: none, every other source
	                          * is plaintext */
	__u16 mode;       /* TSP_MODE_* (host order) */
	__u16 flags;      /* TSP_POD_* (host order) */
	__u32 pad;        /* 0 */
	__u64 plaintext;  /* as tsp_pod */
	__u64 dropped;    /* as tsp_pod, plus packets whose IPv6 extension headers hide the TCP header (fail closed) */
	__u64 mesh;       /* as tsp_pod */
};
_Static_assert(sizeof(struct tsp_pod6) == 48, "struct tsp_pod6 size");

/*
 * Key of tsp_plain_rules6: tsp_plain_key with IPv6 addresses. LPM data: pod address (128 bits), destination
 * port (16), pad (16), source address (0-128 bits); prefixlen = 160 + the source prefix length.
 */
struct tsp_plain_key6 {
	__u32 prefixlen;
	struct tsp_in6 pod_ip; /* network order */
	__u16 port;            /* network order; 0 = other ports */
	__u16 pad;             /* 0 */
	struct tsp_in6 src_ip; /* network order, the source network */
};
_Static_assert(sizeof(struct tsp_plain_key6) == 40, "struct tsp_plain_key6 size");

/* Bits of tsp_plain_key6's LPM data before the source address. */
#define TSP_PLAIN_FIXED_BITS6 160

/*
 * tsp_pods6  HASH  key: struct tsp_in6 pod IPv6 address (network order)  value: struct tsp_pod6
 *   writer: agent (PeerAuthProgram.sync, as tsp_pods, for the pods' IPv6 addresses; keeps the counters)
 *   reader: tsp_ingress (counts with atomic adds)
 *   Pods not in here are never touched (a pod's link-local address is never in here: see peerauth.bpf.c).
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096); /* the default; the agent sets it from --max-pods before load */
	__type(key, struct tsp_in6);
	__type(value, struct tsp_pod6);
} tsp_pods6 SEC(".maps");

/*
 * tsp_plain_rules6  LPM_TRIE  key: struct tsp_plain_key6  value: struct tsp_plain_verdict
 *   writer: agent (PeerAuthProgram.sync: tsp_plain_rules' entries for the pods' IPv6 addresses, compiled by
 *           PlaintextPolicy from the policies' IPv6 ipBlocks/notIpBlocks plus ::/0)
 *   reader: tsp_ingress, only for pods whose tsp_pod6.flags has TSP_POD_PLAIN_RULES (counts hits)
 *   Full (16,384 entries, its own budget next to tsp_plain_rules'): as tsp_plain_rules, fail closed.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 16384);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct tsp_plain_key6);
	__type(value, struct tsp_plain_verdict);
} tsp_plain_rules6 SEC(".maps");

/* Key of tsp_deliveries6: tsp_delivery_key for a delivery over IPv6. All fields in network order. */
struct tsp_delivery_key6 {
	struct tsp_in6 saddr; /* the client pod (the address the agent bound), or the node's IPv6 address */
	struct tsp_in6 daddr; /* the local pod */
	__u16 sport;
	__u16 dport;
};
_Static_assert(sizeof(struct tsp_delivery_key6) == 36, "struct tsp_delivery_key6 size");

/*
 * tsp_deliveries6  LRU_HASH (65536)  key: struct tsp_delivery_key6  value: __u32 1
 *   writer: agent (PeerAuthProgram.addDelivery/removeDelivery for IPv6 4-tuples, as tsp_deliveries)
 *   reader: tsp_ingress: a SYN whose 4-tuple is in here is the agent's delivery, never plaintext.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct tsp_delivery_key6);
	__type(value, __u32);
} tsp_deliveries6 SEC(".maps");

/* Value of tsp_plain_events6: tsp_plain_event with IPv6 addresses. Network order but verdict. */
struct tsp_plain_event6 {
	struct tsp_in6 src_ip;
	struct tsp_in6 pod_ip;
	__u16 sport;
	__u16 dport;
	__u8 verdict;     /* TSP_PLAIN_EV_* */
	__u8 pad[3];
};
_Static_assert(sizeof(struct tsp_plain_event6) == 40, "struct tsp_plain_event6 size");

/*
 * tsp_plain_events6  QUEUE (4096)  value: struct tsp_plain_event6
 *   writer: tsp_ingress (plaintext SYNs to pods' IPv6 addresses; when full the event is lost and counted in
 *           tsp_plain_events_lost, which counts both queues' losses)
 *   reader: agent (PeerAuthProgram.drainPlainEvents, after tsp_plain_events)
 */
struct {
	__uint(type, BPF_MAP_TYPE_QUEUE);
	__uint(max_entries, 4096);
	__type(value, struct tsp_plain_event6);
} tsp_plain_events6 SEC(".maps");

#endif /* TESSERA_PEERAUTH_H */
