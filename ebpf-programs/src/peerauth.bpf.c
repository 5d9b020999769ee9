/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * cgroup_skb/ingress, attached with a bpf_link to the cgroup v2 root like the redirect programs: it sees
 * every IPv4 packet delivered to a socket of any process. A TCP connection attempt (SYN without ACK) to a
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
 * the agent is down (the pinned link and maps stay). Limits: IPv4 only (as tsp_pods); a source is judged
 * by its address, so a root process of the node that binds the probe address itself passes.
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
	}
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

SEC("cgroup_skb/ingress")
int tsp_ingress(struct __sk_buff *skb)
{
	return tsp_check(skb);
}

char _license[] SEC("license") = "Dual BSD/GPL";
