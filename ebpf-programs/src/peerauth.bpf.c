/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * cgroup_skb/ingress, attached with a bpf_link to the cgroup v2 root like the redirect programs: it sees
 * every IPv4 and IPv6 packet delivered to a socket of any process. A TCP connection attempt (SYN without ACK) to a
 * pod in tsp_pods that is not one of the node agent's deliveries (their 4-tuples are in tsp_deliveries:
 * the agent dials pods from the client pod's address, or records its node-address dials too) and whose
 * source is neither tsp_pod.node_ip (the one trusted address: the link-local probe address the node SNATs
 * the kubelet's cgroup to, e.g. 169.254.7.127; the node IP only when the agent could not install that SNAT)
 * nor the pod itself is plaintext from outside the mesh: dropped when the pod is STRICT. So what is trusted
 * is: recorded deliveries, the pod itself, the probe address; not the node address wholesale. When PERMISSIVE and AuthorizationPolicies select the pod
 * (tsp_pod.flags has TSP_POD_PLAIN_RULES), the SYN is decided by tsp_plain_rules: longest match of
 * (pod, destination port, source) and, when no entry names the port, of (pod, port 0 = "other ports",
 * source); the entry holds the agent's Authorizer decision for a source without identity (principal and
 * namespace rules cannot match, ipBlocks and ports can; DENY first; any selecting ALLOW means default
 * deny; invalid policies fail closed). Deny -> dropped (the client's connect times out, as under STRICT).
 * Without the flag, plaintext is counted and passed. Established connections and every other packet pass
 * (the pod's own outbound connections are never affected).
 * Fail mode: open for pods not in tsp_pods (no entry, no enforcement); closed for STRICT pods and for
 * pods with the flag whose rules miss (no entry for the port and none for port 0: dropped), also while
 * the agent is down (the pinned link and maps stay). Limit: a source is judged by its address, so a root
 * process of the node that binds the probe address itself passes.
 *
 * IPv6 (tsp_check6): the same decisions for pods' IPv6 addresses with the *6 maps: recorded deliveries
 * (tsp_deliveries6), the pod itself and tsp_pod6.probe_ip (the IPv6 probe address, or the node's IPv6
 * address as fallback; none when all zero) are trusted; STRICT drops, tsp_plain_rules6 decides for pods with
 * the rules flag. The TCP header is found behind the extension headers the kernel itself walks before
 * delivering to TCP (hop-by-hop, routing, destination options, a first fragment's header, AH), at most
 * TSP_IP6_MAX_EXT of them. Fail closed: a packet to a pod whose upper-layer header cannot be reached (ESP,
 * mobility/HIP/shim6/experimental headers, a non-first fragment, more headers than that, a truncated
 * header) could be a hidden SYN, so it is dropped (and counted in dropped) for STRICT pods and pods with the
 * rules flag, and passed for the others (who pass plaintext anyway). Not covered: a pod's link-local address
 * (fe80::/10): it is no key of tsp_pods6, and only the pod's link (the node) can reach it.
 */
#include "tessera_peerauth.h"

#define TSP_ETH_P_IP 0x0800
#define TSP_IPPROTO_TCP 6
#define TSP_TCP_FLAG_SYN 0x02
#define TSP_TCP_FLAG_ACK 0x10

struct tsp_ip4 {
	__u8 ver_ihl;
	__u8 tos;
	__u16 tot_len;
	__u16 id;
	__u16 frag_off;
	__u8 ttl;
	__u8 protocol;
	__u16 check;
	__u32 saddr;
	__u32 daddr;
};

/* Decision of tsp_plain_rules for a plaintext SYN: TSP_PASS or TSP_DROP (a miss drops). */
static __always_inline int tsp_plain_decide(__u32 pod_ip, __u16 port, __u32 src_ip)
{
	struct tsp_plain_key key = {
		.prefixlen = TSP_PLAIN_FIXED_BITS + 32,
		.pod_ip = pod_ip,
		.port = port,
		.pad = 0,
		.src_ip = src_ip,
	};
	struct tsp_plain_verdict *v = bpf_map_lookup_elem(&tsp_plain_rules, &key);
	if (!v) {
		key.port = 0;
		v = bpf_map_lookup_elem(&tsp_plain_rules, &key);
	}
	if (!v)
		return TSP_DROP;
	__sync_fetch_and_add(&v->hits, 1);
	return v->allow == TSP_PLAIN_ALLOW ? TSP_PASS : TSP_DROP;
}

/* Wakes the agent for a queued plaintext event (tsp_plain_bell); a full ring means it has one pending already. */
static __always_inline void tsp_plain_ring(void)
{
	__u64 bell = 1;

	bpf_ringbuf_output(&tsp_plain_bell, &bell, sizeof(bell), 0);
}

/*
 * Reports one plaintext decision to the agent (tsp_plain_events); called at each decision point of
 * tsp_check, only for SYNs. A full queue loses the event and counts it: never blocks, never changes the verdict.
 */
static __always_inline void tsp_plain_report(struct __sk_buff *skb, __u32 tcp, struct tsp_ip4 *ip, __u8 verdict)
{
	struct tsp_plain_event ev = {
		.src_ip = ip->saddr,
		.pod_ip = ip->daddr,
		.verdict = verdict,
	};
	__u32 zero = 0;

	if (bpf_skb_load_bytes(skb, tcp, &ev.sport, 4) < 0) /* sport, dport */
		return;
	if (bpf_map_push_elem(&tsp_plain_events, &ev, 0) != 0) {
		__u64 *lost = bpf_map_lookup_elem(&tsp_plain_events_lost, &zero);
		if (lost)
			__sync_fetch_and_add(lost, 1);
		return;
	}
	tsp_plain_ring();
}

static __always_inline int tsp_check(struct __sk_buff *skb)
{
	struct tsp_ip4 ip;
	__u8 flags;
	__u16 dport;

	if (skb->protocol != bpf_htons(TSP_ETH_P_IP))
		return TSP_PASS;
	if (bpf_skb_load_bytes(skb, 0, &ip, sizeof(ip)) < 0 || ip.protocol != TSP_IPPROTO_TCP)
		return TSP_PASS;
	struct tsp_pod *pod = bpf_map_lookup_elem(&tsp_pods, &ip.daddr);
	if (!pod)
		return TSP_PASS;
	__u32 tcp = ((__u32)(ip.ver_ihl & 0x0f)) * 4;
	if (bpf_skb_load_bytes(skb, tcp + 13, &flags, 1) < 0) /* TCP flags byte */
		return TSP_PASS;
	if (!(flags & TSP_TCP_FLAG_SYN) || (flags & TSP_TCP_FLAG_ACK))
		return TSP_PASS;
	/* the agent's deliveries come from the client pod's address (transparent): known by their 4-tuple */
	struct tsp_delivery_key d = { .saddr = ip.saddr, .daddr = ip.daddr };
	if (bpf_skb_load_bytes(skb, tcp, &d.sport, 4) == 0 && bpf_map_lookup_elem(&tsp_deliveries, &d)) {
		__sync_fetch_and_add(&pod->mesh, 1);
		return TSP_PASS;
	}
	if (ip.saddr == pod->node_ip || ip.saddr == ip.daddr) {
		__sync_fetch_and_add(&pod->mesh, 1);
		return TSP_PASS;
	}
	if (pod->mode == TSP_MODE_STRICT) {
		__sync_fetch_and_add(&pod->dropped, 1);
		tsp_plain_report(skb, tcp, &ip, TSP_PLAIN_EV_STRICT);
		return TSP_DROP;
	}
	if (pod->flags & TSP_POD_PLAIN_RULES) {
		/* a SYN too short to hold its ports is no connection attempt worth a rule: drop it */
		if (bpf_skb_load_bytes(skb, tcp + 2, &dport, sizeof(dport)) < 0 ||
		    tsp_plain_decide(ip.daddr, dport, ip.saddr) == TSP_DROP) {
			__sync_fetch_and_add(&pod->dropped, 1);
			tsp_plain_report(skb, tcp, &ip, TSP_PLAIN_EV_DENIED);
			return TSP_DROP;
		}
	}
	__sync_fetch_and_add(&pod->plaintext, 1);
	tsp_plain_report(skb, tcp, &ip,
			 (pod->flags & TSP_POD_PLAIN_RULES) ? TSP_PLAIN_EV_ALLOWED : TSP_PLAIN_EV_PERMISSIVE);
	return TSP_PASS;
}


/* ---------------------------------------------------------------------------------------------- IPv6 */

#define TSP_ETH_P_IPV6 0x86DD
#define TSP_IP6_MAX_EXT 8

struct tsp_ip6 {
	__u32 vtc_flow;
	__u16 payload_len;
	__u8 nexthdr;
	__u8 hop_limit;
	struct tsp_in6 saddr;
	struct tsp_in6 daddr;
};

static __always_inline int tsp_in6_eq(const struct tsp_in6 *a, const struct tsp_in6 *b)
{
	return a->a[0] == b->a[0] && a->a[1] == b->a[1] && a->a[2] == b->a[2] && a->a[3] == b->a[3];
}

static __always_inline int tsp_in6_zero(const struct tsp_in6 *a)
{
	return (a->a[0] | a->a[1] | a->a[2] | a->a[3]) == 0;
}

/* IPv6 extension headers (IANA) that tsp_ip6_tcp cannot walk past: the packet's upper layer stays unknown. */
static __always_inline int tsp_ip6_opaque(__u8 h)
{
	return h == 50 /* ESP */ || h == 135 /* mobility */ || h == 139 /* HIP */ || h == 140 /* shim6 */ ||
	       h == 253 || h == 254 /* experimental */;
}

/*
 * Finds the TCP header behind the IPv6 extension headers. Returns 1 with *off = its offset, 0 for another
 * upper-layer protocol, -1 when the upper layer cannot be known (the caller fails closed where it enforces).
 */
static __always_inline int tsp_ip6_tcp(struct __sk_buff *skb, __u8 next, __u32 *off)
{
	__u32 o = sizeof(struct tsp_ip6);
	__u8 h[4];

	for (int i = 0; i < TSP_IP6_MAX_EXT; i++) {
		if (next == TSP_IPPROTO_TCP) {
			*off = o;
			return 1;
		}
		if (next == 0 || next == 43 || next == 60) { /* hop-by-hop, routing, destination options */
			if (bpf_skb_load_bytes(skb, o, h, 2) < 0)
				return -1;
			next = h[0];
			o += ((__u32)h[1] + 1) * 8;
		} else if (next == 51) { /* AH: length in 4-octet units, minus 2 */
			if (bpf_skb_load_bytes(skb, o, h, 2) < 0)
				return -1;
			next = h[0];
			o += ((__u32)h[1] + 2) * 4;
		} else if (next == 44) { /* fragment: only the first one carries the TCP header */
			if (bpf_skb_load_bytes(skb, o, h, 4) < 0 || (((__u16)h[2] << 8 | h[3]) & 0xfff8) != 0)
				return -1;
			next = h[0];
			o += 8;
		} else {
			return tsp_ip6_opaque(next) ? -1 : 0;
		}
	}
	if (next == TSP_IPPROTO_TCP) {
		*off = o;
		return 1;
	}
	return -1; /* more headers than we walk: as opaque */
}

static __always_inline int tsp_plain_decide6(const struct tsp_in6 *pod_ip, __u16 port, const struct tsp_in6 *src_ip)
{
	struct tsp_plain_key6 key = {
		.prefixlen = TSP_PLAIN_FIXED_BITS6 + 128,
		.pod_ip = *pod_ip,
		.port = port,
		.pad = 0,
		.src_ip = *src_ip,
	};
	struct tsp_plain_verdict *v = bpf_map_lookup_elem(&tsp_plain_rules6, &key);
	if (!v) {
		key.port = 0;
		v = bpf_map_lookup_elem(&tsp_plain_rules6, &key);
	}
	if (!v)
		return TSP_DROP;
	__sync_fetch_and_add(&v->hits, 1);
	return v->allow == TSP_PLAIN_ALLOW ? TSP_PASS : TSP_DROP;
}

static __always_inline void tsp_plain_report6(struct __sk_buff *skb, __u32 tcp, struct tsp_ip6 *ip, __u8 verdict)
{
	struct tsp_plain_event6 ev = {
		.src_ip = ip->saddr,
		.pod_ip = ip->daddr,
		.verdict = verdict,
	};
	__u32 zero = 0;

	if (bpf_skb_load_bytes(skb, tcp, &ev.sport, 4) < 0) /* sport, dport */
		return;
	if (bpf_map_push_elem(&tsp_plain_events6, &ev, 0) != 0) {
		__u64 *lost = bpf_map_lookup_elem(&tsp_plain_events_lost, &zero);
		if (lost)
			__sync_fetch_and_add(lost, 1);
		return;
	}
	tsp_plain_ring();
}

/* tsp_check for IPv6: the same order of decisions, the *6 maps. */
static __always_inline int tsp_check6(struct __sk_buff *skb)
{
	struct tsp_ip6 ip;
	__u32 tcp = 0;
	__u8 flags;
	__u16 dport;

	if (bpf_skb_load_bytes(skb, 0, &ip, sizeof(ip)) < 0)
		return TSP_PASS;
	struct tsp_pod6 *pod = bpf_map_lookup_elem(&tsp_pods6, &ip.daddr);
	if (!pod)
		return TSP_PASS;
	int found = tsp_ip6_tcp(skb, ip.nexthdr, &tcp);
	if (found == 0)
		return TSP_PASS;
	if (found < 0 || bpf_skb_load_bytes(skb, tcp + 13, &flags, 1) < 0) {
		/* a SYN may hide here: fail closed where plaintext is judged */
		if (pod->mode == TSP_MODE_STRICT || (pod->flags & TSP_POD_PLAIN_RULES)) {
			__sync_fetch_and_add(&pod->dropped, 1);
			return TSP_DROP;
		}
		return TSP_PASS;
	}
	if (!(flags & TSP_TCP_FLAG_SYN) || (flags & TSP_TCP_FLAG_ACK))
		return TSP_PASS;
	struct tsp_delivery_key6 d = { .saddr = ip.saddr, .daddr = ip.daddr };
	if (bpf_skb_load_bytes(skb, tcp, &d.sport, 4) == 0 && bpf_map_lookup_elem(&tsp_deliveries6, &d)) {
		__sync_fetch_and_add(&pod->mesh, 1);
		return TSP_PASS;
	}
	if ((!tsp_in6_zero(&pod->probe_ip) && tsp_in6_eq(&ip.saddr, &pod->probe_ip)) || tsp_in6_eq(&ip.saddr, &ip.daddr)) {
		__sync_fetch_and_add(&pod->mesh, 1);
		return TSP_PASS;
	}
	if (pod->mode == TSP_MODE_STRICT) {
		__sync_fetch_and_add(&pod->dropped, 1);
		tsp_plain_report6(skb, tcp, &ip, TSP_PLAIN_EV_STRICT);
		return TSP_DROP;
	}
	if (pod->flags & TSP_POD_PLAIN_RULES) {
		if (bpf_skb_load_bytes(skb, tcp + 2, &dport, sizeof(dport)) < 0 ||
		    tsp_plain_decide6(&ip.daddr, dport, &ip.saddr) == TSP_DROP) {
			__sync_fetch_and_add(&pod->dropped, 1);
			tsp_plain_report6(skb, tcp, &ip, TSP_PLAIN_EV_DENIED);
			return TSP_DROP;
		}
	}
	__sync_fetch_and_add(&pod->plaintext, 1);
	tsp_plain_report6(skb, tcp, &ip,
			  (pod->flags & TSP_POD_PLAIN_RULES) ? TSP_PLAIN_EV_ALLOWED : TSP_PLAIN_EV_PERMISSIVE);
	return TSP_PASS;
}

SEC("cgroup_skb/ingress")
int tsp_ingress(struct __sk_buff *skb)
{
	if (skb->protocol == bpf_htons(TSP_ETH_P_IPV6))
		return tsp_check6(skb);
	return tsp_check(skb);
}

char _license[] SEC("license") = "Dual BSD/GPL";
