// `kelp lab`: a whole multi-node cluster on one Linux machine. An "underlay" network
// namespace with a bridge plays the physical LAN; each node is a network namespace with eth0
// on that LAN plus a mount namespace in which the node's own directories cover the standard
// paths, running `kelp server` (master) or `kelp agent` (the others) as ordinary processes;
// the host reaches the LAN through one veth (.1), so the host's kubectl and curl talk to the
// nodes' addresses. Nothing is routed out of the machine. Every object the lab makes is named
// from its prefix, so `down` finds and removes all of it, also after a crash or a half-made
// `up`. See docs/lab.md.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "common/status.h"
#include "lab/topology.h"

namespace kelp::lab {

// Makes the lab and returns once every node is Ready; prints progress and, at the end, how to
// use it. On failure it says what failed; what was made stays for `down` to remove.
Status Up(const LabOptions& options, std::ostream& out);

// Removes every process, container, namespace, link, mount and file the lab made. Safe to
// repeat; OK when there is no lab.
Status Down(const LabOptions& options, std::ostream& out);

// Nodes, addresses, processes; and the cluster's nodes when the server answers.
Status PrintStatus(const LabOptions& options, std::ostream& out);

// Replaces this process with `argv` run inside node `node` (its network and mount
// namespaces). Returns only on failure.
Status ExecInNode(const LabOptions& options, const std::string& node,
                  const std::vector<std::string>& argv);

// Prints the logs of the kelp processes of `node` (following them with `follow`).
Status PrintLogs(const LabOptions& options, const std::string& node, bool follow,
                 std::ostream& out);

}  // namespace kelp::lab
