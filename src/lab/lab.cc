// kelp lab up/down/status/exec/logs (see lab.h): the network through the Netlink seam, the
// nodes' mount namespaces and daemons through node_process.h, readiness through the API.
#include "lab/lab.h"

#include <signal.h>
#include <sys/mount.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <algorithm>
#include <chrono>
#include <fstream>
#include <thread>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "client/client_config.h"
#include "agent/images/image_store.h"
#include "client/https_client.h"
#include "common/file.h"
#include "common/json.h"
#include "common/process.h"
#include "lab/node_process.h"
#include "net/netlink_libnl.h"
#include "net/netns.h"

namespace kelp::lab {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

constexpr char kServiceCidr[] = "10.96.0.0/12";
constexpr auto kReadyTimeout = 120s;

std::filesystem::path SelfBinary() {
  std::error_code error;
  std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", error);
  return error ? std::filesystem::path("kelp") : self;
}

std::string NetnsPath(const std::string& name) { return std::string(net::kNetnsDir) + "/" + name; }

bool NetnsExists(const std::string& name) { return std::filesystem::exists(NetnsPath(name)); }

std::filesystem::path LogFile(const LabTopology& lab, const LabNode& node, std::string_view what) {
  return lab.options.dir / "logs" / fmt::format("{}-{}.log", node.name, what);
}

void Step(std::ostream& out, const std::string& text) { out << "==> " << text << std::endl; }

// --- state: the options a lab was made with, so later commands need none -----------------

// `created_dirs`: host directories the lab made as mount targets (removed again when empty).
Status SaveState(const LabTopology& lab, const std::vector<std::string>& created_dirs = {}) {
  const LabOptions& o = lab.options;
  json::array created;
  for (const std::string& dir : created_dirs) created.push_back(json::string(dir));
  json::object state{{"nodes", o.nodes},
                     {"flannelBackend", o.flannel_backend},
                     {"subnet", o.subnet},
                     {"prefix", o.prefix},
                     {"hollow", o.hollow},
                     {"createdDirs", std::move(created)}};
  return WriteFileAtomic(lab.state_file, json::serialize(state) + "\n", 0600);
}

// The host directories `up` made, from <dir>/lab.json.
std::vector<std::string> CreatedDirs(const LabOptions& options) {
  std::vector<std::string> dirs;
  Result<std::string> text = ReadFile(options.dir / "lab.json");
  if (!text.ok()) return dirs;
  Result<json::object> state = ParseJsonObject(*text);
  if (!state.ok()) return dirs;
  const json::value* created = state->if_contains("createdDirs");
  if (created == nullptr || !created->is_array()) return dirs;
  for (const json::value& dir : created->get_array()) {
    if (dir.is_string()) dirs.emplace_back(dir.get_string());
  }
  return dirs;
}

// The lab described by <dir>/lab.json when there is one, else by `options` themselves.
Result<LabTopology> LoadTopology(const LabOptions& options) {
  LabOptions effective = options;
  Result<std::string> text = ReadFile(options.dir / "lab.json");
  if (text.ok()) {
    Result<json::object> state = ParseJsonObject(*text);
    if (state.ok()) {
      effective.nodes = static_cast<int>(GetInt64(*state, "nodes").value_or(options.nodes));
      effective.flannel_backend =
          std::string(GetString(*state, "flannelBackend").value_or(options.flannel_backend));
      effective.subnet = std::string(GetString(*state, "subnet").value_or(options.subnet));
      effective.prefix = std::string(GetString(*state, "prefix").value_or(options.prefix));
      effective.hollow = GetBool(*state, "hollow").value_or(options.hollow);
    }
  }
  return MakeTopology(effective);
}

// --- preflight --------------------------------------------------------------------------

bool OnPath(const std::string& program) {
  const char* path = getenv("PATH");
  std::string dirs = path ? path : "/usr/sbin:/usr/bin:/sbin:/bin";
  size_t start = 0;
  while (start <= dirs.size()) {
    size_t end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    const std::filesystem::path candidate = std::filesystem::path(dirs.substr(start, end - start)) / program;
    if (access(candidate.c_str(), X_OK) == 0) return true;
    start = end + 1;
  }
  return false;
}

Status Preflight(const LabTopology& lab, std::ostream& out) {
  if (geteuid() != 0) {
    return PermissionDeniedError(
        "kelp lab needs root (network namespaces, mounts, containers): run it with sudo");
  }
  if (!lab.options.hollow && !OnPath("runc")) {
    return NotFoundError(
        "runc is not installed: `apt-get install runc` (or run `make demo`, which installs it)");
  }
  if (!OnPath("kubectl")) out << "note: kubectl is not on PATH; the lab works, but you need it to use it\n";
  if (std::filesystem::exists(lab.state_file) || NetnsExists(lab.underlay_netns)) {
    return AlreadyExistsError(
        fmt::format("a lab with prefix \"{}\" is already up (see `kelp lab status`); run `kelp lab "
                    "down` first",
                    lab.options.prefix));
  }
  // The LAN must not overlap anything the host already routes.
  KELP_ASSIGN_OR_RETURN(auto host, net::LibnlNetlink::Open());
  KELP_ASSIGN_OR_RETURN(std::vector<net::Route> routes, host->ListRoutes({}));
  for (const net::Route& route : routes) {
    if (route.dst.length == 0) continue;  // the default route overlaps everything
    const bool overlaps = route.dst.length <= 24 ? route.dst.Contains(lab.subnet.address)
                                                 : lab.subnet.Contains(route.dst.address);
    if (overlaps) {
      Result<net::Link> link = host->GetLinkByIndex(route.oif);
      return AlreadyExistsError(fmt::format(
          "{} is already in use on this machine (route {} dev {}); pick another --subnet",
          lab.subnet.ToString(), route.dst.ToString(), link.ok() ? link->name : "?"));
    }
  }
  return Status::Ok();
}

// --- network ----------------------------------------------------------------------------

Status WriteSysctl(int netns_fd, const std::string& path, const std::string& value) {
  return net::RunInNetns(netns_fd, [&] {
    std::ofstream file(path);
    file << value;
    file.close();
    return file ? Status::Ok() : IoError("cannot write " + path);
  });
}

Status SetUp(net::Netlink& netlink, const std::string& name) {
  KELP_ASSIGN_OR_RETURN(net::Link link, netlink.GetLink(name));
  return netlink.SetLinkUp(link.index, true);
}

Status CreateNetwork(const LabTopology& lab, std::ostream& out) {
  Step(out, fmt::format("creating the LAN {} (bridge {} in netns {}), the host at {}",
                        lab.subnet.ToString(), lab.bridge, lab.underlay_netns, lab.host_address));
  KELP_ASSIGN_OR_RETURN(auto underlay_ns, net::NamedNetns::Create(lab.underlay_netns));
  underlay_ns->Keep();
  KELP_ASSIGN_OR_RETURN(auto underlay, net::LibnlNetlink::Open(underlay_ns->fd()));
  KELP_RETURN_IF_ERROR(underlay->AddBridge(lab.bridge, 0));
  KELP_ASSIGN_OR_RETURN(net::Link bridge, underlay->GetLink(lab.bridge));
  KELP_RETURN_IF_ERROR(underlay->SetLinkUp(bridge.index, true));
  KELP_RETURN_IF_ERROR(SetUp(*underlay, "lo"));

  // The host's door to the LAN.
  KELP_ASSIGN_OR_RETURN(auto host, net::LibnlNetlink::Open());
  KELP_RETURN_IF_ERROR(host->AddVeth(lab.host_link, lab.host_peer, underlay_ns->fd(), 0));
  KELP_ASSIGN_OR_RETURN(net::Link host_link, host->GetLink(lab.host_link));
  KELP_ASSIGN_OR_RETURN(net::Ipv4Address host_ip, net::Ipv4Address::Parse(lab.host_address));
  KELP_RETURN_IF_ERROR(host->AddAddress({host_link.index, {host_ip, 24}}));
  KELP_RETURN_IF_ERROR(host->SetLinkUp(host_link.index, true));
  KELP_ASSIGN_OR_RETURN(net::Link peer, underlay->GetLink(lab.host_peer));
  KELP_RETURN_IF_ERROR(underlay->SetLinkMaster(peer.index, bridge.index));
  KELP_RETURN_IF_ERROR(underlay->SetLinkUp(peer.index, true));

  KELP_ASSIGN_OR_RETURN(net::Ipv4Prefix services, net::Ipv4Prefix::Parse(kServiceCidr));
  for (const LabNode& node : lab.nodes) {
    Step(out, fmt::format("node {}: netns {}, eth0 {}", node.name, node.netns, node.address));
    KELP_ASSIGN_OR_RETURN(auto node_ns, net::NamedNetns::Create(node.netns));
    node_ns->Keep();
    KELP_RETURN_IF_ERROR(underlay->AddVeth(node.underlay_port, "eth0", node_ns->fd(), 0));
    KELP_ASSIGN_OR_RETURN(net::Link port, underlay->GetLink(node.underlay_port));
    KELP_RETURN_IF_ERROR(underlay->SetLinkMaster(port.index, bridge.index));
    KELP_RETURN_IF_ERROR(underlay->SetLinkUp(port.index, true));
    KELP_ASSIGN_OR_RETURN(auto inside, net::LibnlNetlink::Open(node_ns->fd()));
    KELP_RETURN_IF_ERROR(SetUp(*inside, "lo"));
    KELP_ASSIGN_OR_RETURN(net::Link eth0, inside->GetLink("eth0"));
    KELP_ASSIGN_OR_RETURN(net::Ipv4Address address, net::Ipv4Address::Parse(node.address));
    KELP_RETURN_IF_ERROR(inside->AddAddress({eth0.index, {address, 24}}));
    KELP_RETURN_IF_ERROR(inside->SetLinkUp(eth0.index, true));
    // ClusterIPs must be routable for the proxy's DNAT to see the packets; nothing else leaves
    // the LAN (no default route: the lab never reaches outside the machine).
    KELP_RETURN_IF_ERROR(inside->AddRoute({.dst = services,
                                           .oif = eth0.index,
                                           .scope = net::kScopeLink}));
    KELP_RETURN_IF_ERROR(WriteSysctl(node_ns->fd(), "/proc/sys/net/ipv4/ip_forward", "1"));
  }
  return Status::Ok();
}

// --- nodes ------------------------------------------------------------------------------

Status CreateNodeFilesystems(const LabTopology& lab, std::ostream& out) {
  Step(out, "giving each node its own /run, /var/lib/kelp, /var/log/pods, /etc/cni, /opt/cni");
  // Mount targets the host lacks are made (empty) and recorded, so `down` removes them again.
  std::vector<std::string> created;
  for (const NodeMount& mount : NodeMounts(lab.nodes.front())) {
    if (std::filesystem::exists(mount.target)) continue;
    std::filesystem::path missing = mount.target;
    while (!std::filesystem::exists(missing.parent_path())) missing = missing.parent_path();
    KELP_RETURN_IF_ERROR(CreateDirectories(mount.target, 0755));
    for (std::filesystem::path dir = mount.target;; dir = dir.parent_path()) {
      created.push_back(dir.string());
      if (dir == missing) break;
    }
  }
  KELP_RETURN_IF_ERROR(SaveState(lab, created));
  KELP_RETURN_IF_ERROR(MakePrivateMountPoint(lab.options.dir / "ns"));
  for (const LabNode& node : lab.nodes) {
    KELP_RETURN_IF_ERROR(CreateMountNamespace(node.mount_ns, NodeMounts(node))
                             .WithContext("node " + node.name));
  }
  return Status::Ok();
}

Result<pid_t> StartInNode(const LabTopology& lab, const LabNode& node, std::string_view what,
                          std::vector<std::string> argv) {
  Result<pid_t> pid = StartDetached({.argv = std::move(argv),
                                     .netns_path = NetnsPath(node.netns),
                                     .mount_ns = node.mount_ns.string(),
                                     .log_file = LogFile(lab, node, what)});
  if (!pid.ok()) return pid.status().WithContext(fmt::format("{} on {}", what, node.name));
  return pid;
}

// The cgroup root of the lab's agents: per prefix, so that two labs (or a lab and a real agent)
// on one machine never share pod cgroups, and `down` removes exactly this lab's.
std::string CgroupRoot(const LabTopology& lab) { return lab.options.prefix + "-lab"; }

std::vector<std::string> ServerArgv(const LabTopology& lab) {
  const LabNode& master = lab.nodes.front();
  std::vector<std::string> argv = {SelfBinary().string(), "server",
                                   "--data-dir", "/var/lib/kelp/server",
                                   "--bind-address", "0.0.0.0",
                                   "--advertise-address", master.address,
                                   "--tls-san", master.address,
                                   "--flannel-backend", lab.options.flannel_backend};
  if (lab.options.hollow) {
    argv.push_back("--disable-agent");
  } else {  // the embedded agent makes the master a node too, as in the classic lab
    argv.insert(argv.end(), {"--node-name", master.name, "--node-ip", master.address,
                             "--agent-data-dir", "/var/lib/kelp/agent",  // where up loads images
                             "--cgroup-root", CgroupRoot(lab),
                             // The nodes share this machine: each reports its own pods.
                             "--node-stats-cgroup", ""});
  }
  return argv;
}

std::vector<std::string> AgentArgv(const LabTopology& lab, const LabNode& node,
                                   const std::string& token) {
  std::vector<std::string> argv = {SelfBinary().string(), "agent",
                                   "--server", lab.ServerUrl(),
                                   "--token", token,
                                   "--node-name", node.name,
                                   "--node-ip", node.address};
  if (lab.options.hollow) {
    argv.push_back("--hollow");
  } else {
    argv.insert(argv.end(), {"--cgroup-root", CgroupRoot(lab), "--node-stats-cgroup", ""});
  }
  return argv;
}

// Polls `ready` every 100 ms until it holds or `timeout` passes.
template <typename Predicate>
bool WaitFor(Predicate ready, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!ready()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(100ms);
  }
  return true;
}

bool NodeReady(const json::object& node) {
  const json::value* conditions = FindPath(node, "status.conditions");
  if (conditions == nullptr || !conditions->is_array()) return false;
  for (const json::value& condition : conditions->get_array()) {
    if (!condition.is_object()) continue;
    const json::object& c = condition.get_object();
    if (GetString(c, "type").value_or("") == "Ready") {
      return GetString(c, "status").value_or("") == "True";
    }
  }
  return false;
}

// The archives `up` loads: the ones asked for, else every *.tar beside the binary in images/.
std::vector<std::filesystem::path> ImageArchives(const LabOptions& options) {
  if (!options.images.empty()) return options.images;
  std::vector<std::filesystem::path> found;
  std::error_code error;
  const std::filesystem::path dir = SelfBinary().parent_path() / "images";
  for (const auto& entry : std::filesystem::directory_iterator(dir, error)) {
    if (entry.path().extension() == ".tar") found.push_back(entry.path());
  }
  std::sort(found.begin(), found.end());
  return found;
}

// Loads the image archives into every node's store (<root>/var-lib-kelp/agent/images, which the
// node's agent sees as /var/lib/kelp/agent/images): the lab's `docker load -i` on each node.
// Layers are unpacked once per node; loading an image that is there already is cheap.
Status LoadImages(const LabTopology& lab, std::ostream& out) {
  const std::vector<std::filesystem::path> archives = ImageArchives(lab.options);
  if (archives.empty()) {
    out << "warning: no images to load (give --image FILE.tar, or build the demo images with\n"
           "         tools/mkimage nginx <kelp's folder>/images/nginx.tar); pods will wait with\n"
           "         ErrImageNeverPull until you `kelp lab exec <node> -- kelp images load -i FILE`\n";
    return Status::Ok();
  }
  Step(out, fmt::format("loading {} image archive(s) on every node", archives.size()));
  std::vector<std::string> names;
  for (const LabNode& node : lab.nodes) {
    KELP_ASSIGN_OR_RETURN(
        auto store, images::ImageStore::Open(node.root / "var-lib-kelp" / "agent" / "images"));
    for (const std::filesystem::path& archive : archives) {
      Result<images::LoadResult> loaded = store->LoadFile(archive);
      if (!loaded.ok()) {
        return loaded.status().WithContext(
            fmt::format("loading {} on {}", archive.string(), node.name));
      }
      if (&node != &lab.nodes.front()) continue;
      for (const images::LoadedImage& image : loaded->images) {
        for (const std::string& name : image.names) names.push_back(name);
      }
    }
  }
  out << fmt::format("    {} on {} node(s)", fmt::join(names, ", "), lab.nodes.size()) << std::endl;
  return Status::Ok();
}

Status StartCluster(const LabTopology& lab, std::ostream& out) {
  const LabNode& master = lab.nodes.front();
  Step(out, fmt::format("starting kelp server on {} ({})", master.name, master.address));
  KELP_RETURN_IF_ERROR(StartInNode(lab, master, "server", ServerArgv(lab)).status());
  const std::filesystem::path server_dir = master.root / "var-lib-kelp" / "server";
  const bool served = WaitFor(
      [&] {
        return std::filesystem::exists(server_dir / "kubeconfig.yaml") &&
               std::filesystem::exists(server_dir / "agent-token");
      },
      30s);
  if (!served) {
    return DeadlineExceededError(fmt::format(
        "kelp server on {} did not come up within 30 s; see `kelp lab logs {}`", master.name,
        master.name));
  }
  KELP_ASSIGN_OR_RETURN(std::string kubeconfig, ReadFile(server_dir / "kubeconfig.yaml"));
  KELP_RETURN_IF_ERROR(WriteFileAtomic(lab.kubeconfig, kubeconfig, 0600));
  KELP_ASSIGN_OR_RETURN(std::string token, ReadFile(server_dir / "agent-token"));
  while (!token.empty() && (token.back() == '\n' || token.back() == '\r')) token.pop_back();

  for (const LabNode& node : lab.nodes) {
    if (node.server && !lab.options.hollow) continue;  // the server's embedded agent
    Step(out, fmt::format("starting kelp agent{} on {} ({})", lab.options.hollow ? " --hollow" : "",
                          node.name, node.address));
    KELP_RETURN_IF_ERROR(StartInNode(lab, node, "agent", AgentArgv(lab, node, token)).status());
  }

  Step(out, fmt::format("waiting for {} node(s) to be Ready", lab.nodes.size()));
  KELP_ASSIGN_OR_RETURN(client::ClientConfig config, client::LoadKubeconfig(lab.kubeconfig));
  KELP_ASSIGN_OR_RETURN(auto api, client::HttpsApiClient::Create(config));
  size_t ready_count = 0;
  const bool all_ready = WaitFor(
      [&] {
        Result<client::ListResult> nodes = api->List(client::kNodes, "", {});
        if (!nodes.ok()) return false;
        size_t ready = 0;
        for (const json::object& node : nodes->items) ready += NodeReady(node) ? 1 : 0;
        if (ready != ready_count) {
          ready_count = ready;
          out << "    " << ready << "/" << lab.nodes.size() << " Ready" << std::endl;
        }
        return ready >= lab.nodes.size();
      },
      kReadyTimeout);
  if (!all_ready) {
    return DeadlineExceededError(fmt::format(
        "only {} of {} nodes became Ready within {} s; see `kelp lab logs <node>`", ready_count,
        lab.nodes.size(), std::chrono::duration_cast<std::chrono::seconds>(kReadyTimeout).count()));
  }
  return Status::Ok();
}

}  // namespace

Status Up(const LabOptions& options, std::ostream& out) {
  KELP_ASSIGN_OR_RETURN(LabTopology lab, MakeTopology(options));
  const auto started = std::chrono::steady_clock::now();
  KELP_RETURN_IF_ERROR(Preflight(lab, out));
  KELP_RETURN_IF_ERROR(CreateDirectories(options.dir / "logs", 0700));
  // Recorded first, so `down` knows this lab even when `up` fails half-way.
  KELP_RETURN_IF_ERROR(SaveState(lab));
  KELP_RETURN_IF_ERROR(CreateNetwork(lab, out));
  KELP_RETURN_IF_ERROR(CreateNodeFilesystems(lab, out));
  if (!options.hollow) KELP_RETURN_IF_ERROR(LoadImages(lab, out));
  KELP_RETURN_IF_ERROR(StartCluster(lab, out));
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  out << fmt::format("\nThe lab is up ({} nodes, flannel {}, {:.1f} s).\n", lab.nodes.size(),
                     options.flannel_backend, seconds);
  out << fmt::format("  export KUBECONFIG={}\n", lab.kubeconfig.string());
  out << "  kubectl get nodes -o wide\n";
  out << "  kelp lab status | kelp lab exec <node> -- <command> | kelp lab logs <node>\n";
  out << "  kelp lab down      # removes everything the lab made\n";
  return Status::Ok();
}

Status Down(const LabOptions& options, std::ostream& out) {
  KELP_ASSIGN_OR_RETURN(LabTopology lab, LoadTopology(options));
  Status first_error;
  auto note = [&](Status status) {
    if (!status.ok() && status.code() != StatusCode::kNotFound) {
      out << "warning: " << status.ToString() << std::endl;
      if (first_error.ok()) first_error = status;
    }
  };
  // Processes first: every daemon inside a node, then every container under its cgroups.
  std::vector<ino_t> inodes;
  for (const LabNode& node : lab.nodes) {
    for (const std::string& file : {NetnsPath(node.netns), node.mount_ns.string()}) {
      if (Result<ino_t> inode = NamespaceInode(file); inode.ok()) inodes.push_back(*inode);
    }
  }
  std::vector<pid_t> pids = ProcessesInNamespaces(inodes);
  if (!pids.empty()) {
    Step(out, fmt::format("stopping {} process(es) on the lab's nodes", pids.size()));
    StopProcesses(pids, 10s);
  }
  note(RemoveCgroupSubtree(CgroupRoot(lab)));  // every node's pods, then the root itself
  // Then namespaces: a node's links go with its network namespace.
  for (const LabNode& node : lab.nodes) {
    if (std::filesystem::exists(node.mount_ns)) note(DeleteMountNamespace(node.mount_ns));
    if (NetnsExists(node.netns)) {
      Step(out, "removing node " + node.name);
      note(net::DeleteNamedNetns(node.netns));
    }
  }
  if (NetnsExists(lab.underlay_netns)) {
    Step(out, "removing the LAN " + lab.subnet.ToString());
    note(net::DeleteNamedNetns(lab.underlay_netns));
  }
  // The host's veth normally goes with its peer in the underlay; make sure.
  if (Result<std::unique_ptr<net::LibnlNetlink>> host = net::LibnlNetlink::Open(); host.ok()) {
    if (Result<net::Link> link = (*host)->GetLink(lab.host_link); link.ok()) {
      note((*host)->DeleteLink(link->index));
    }
  }
  // Mount targets made on the host, deepest first, only while empty.
  for (const std::string& dir : CreatedDirs(options)) {
    std::error_code ignored;
    if (std::filesystem::is_empty(dir, ignored)) std::filesystem::remove(dir, ignored);
  }
  // Last the files, once nothing is mounted under them.
  const std::filesystem::path ns_dir = options.dir / "ns";
  if (std::filesystem::exists(ns_dir)) {
    if (umount2(ns_dir.c_str(), MNT_DETACH) != 0 && errno != EINVAL) {
      note(ErrnoStatus("unmount " + ns_dir.string(), errno));
    }
  }
  std::error_code error;
  if (std::filesystem::exists(options.dir, error)) {
    Step(out, "removing " + options.dir.string());
    std::filesystem::remove_all(options.dir, error);
    if (error) note(IoError("remove " + options.dir.string() + ": " + error.message()));
  }
  if (first_error.ok()) out << "The lab is down." << std::endl;
  return first_error;
}

Status PrintStatus(const LabOptions& options, std::ostream& out) {
  KELP_ASSIGN_OR_RETURN(LabTopology lab, LoadTopology(options));
  if (!std::filesystem::exists(lab.state_file) && !NetnsExists(lab.underlay_netns)) {
    out << "No lab is up (kelp lab up makes one).\n";
    return Status::Ok();
  }
  out << fmt::format("LAN {} (netns {}), host {} on {}; flannel {}{}\n", lab.subnet.ToString(),
                     lab.underlay_netns, lab.host_address, lab.host_link,
                     lab.options.flannel_backend, lab.options.hollow ? ", hollow agents" : "");
  out << fmt::format("{:<8} {:<16} {:<16} {}\n", "NODE", "ADDRESS", "NETNS", "PROCESSES");
  for (const LabNode& node : lab.nodes) {
    std::string processes;
    std::vector<ino_t> inodes;
    if (Result<ino_t> inode = NamespaceInode(NetnsPath(node.netns)); inode.ok()) {
      inodes.push_back(*inode);
    }
    for (pid_t pid : ProcessesInNamespaces(inodes)) {
      Result<std::string> cmdline = ReadFile("/proc/" + std::to_string(pid) + "/cmdline");
      if (!cmdline.ok()) continue;
      std::string first = cmdline->substr(0, cmdline->find('\0'));
      std::string second;
      if (size_t next = cmdline->find('\0'); next != std::string::npos) {
        second = cmdline->substr(next + 1, cmdline->find('\0', next + 1) - next - 1);
      }
      std::string name = std::filesystem::path(first).filename().string();
      if (!second.empty() && second[0] != '-') name += " " + second;
      processes += fmt::format("{}{}({})", processes.empty() ? "" : ", ", name, pid);
    }
    out << fmt::format("{:<8} {:<16} {:<16} {}\n", node.name, node.address,
                       NetnsExists(node.netns) ? node.netns : "(missing)",
                       processes.empty() ? "-" : processes);
  }
  out << "kubeconfig: " << lab.kubeconfig.string() << "\n";
  Result<client::ClientConfig> config = client::LoadKubeconfig(lab.kubeconfig);
  if (!config.ok()) return Status::Ok();
  Result<std::unique_ptr<client::HttpsApiClient>> api = client::HttpsApiClient::Create(*config);
  if (!api.ok()) return Status::Ok();
  Result<client::ListResult> nodes = (*api)->List(client::kNodes, "", {});
  if (!nodes.ok()) {
    out << "the API server does not answer: " << nodes.status().message() << "\n";
    return Status::Ok();
  }
  for (const json::object& node : nodes->items) {
    out << fmt::format("  {} {}\n", GetString(*FindPath(node, "metadata")->if_object(), "name")
                                        .value_or(""),
                       NodeReady(node) ? "Ready" : "NotReady");
  }
  return Status::Ok();
}

Status ExecInNode(const LabOptions& options, const std::string& node_name,
                  const std::vector<std::string>& argv) {
  KELP_ASSIGN_OR_RETURN(LabTopology lab, LoadTopology(options));
  const LabNode* node = lab.Find(node_name);
  if (node == nullptr) return NotFoundError("the lab has no node \"" + node_name + "\"");
  if (!NetnsExists(node->netns)) return NotFoundError("node " + node_name + " is not up");
  if (argv.empty()) return InvalidArgumentError("no command: kelp lab exec NODE -- COMMAND ...");
  KELP_RETURN_IF_ERROR(EnterNode(NetnsPath(node->netns), node->mount_ns.string()));
  std::vector<char*> args;
  for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  execvp(args[0], args.data());
  return ErrnoStatus("run " + argv[0], errno);
}

Status PrintLogs(const LabOptions& options, const std::string& node_name, bool follow,
                 std::ostream& out) {
  KELP_ASSIGN_OR_RETURN(LabTopology lab, LoadTopology(options));
  const LabNode* node = lab.Find(node_name);
  if (node == nullptr) return NotFoundError("the lab has no node \"" + node_name + "\"");
  std::vector<std::string> files;
  for (const char* what : {"server", "agent"}) {
    const std::filesystem::path file = LogFile(lab, *node, what);
    if (std::filesystem::exists(file)) files.push_back(file.string());
  }
  if (files.empty()) return NotFoundError("no logs for node " + node_name + " yet");
  if (follow) {
    std::vector<std::string> argv = {"tail", "-n", "+1", "-F"};
    argv.insert(argv.end(), files.begin(), files.end());
    std::vector<char*> args;
    for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
    args.push_back(nullptr);
    execvp("tail", args.data());
    return ErrnoStatus("run tail", errno);
  }
  for (const std::string& file : files) {
    if (files.size() > 1) out << "==> " << file << " <==\n";
    Result<std::string> text = ReadFile(file);
    if (text.ok()) out << *text;
  }
  return Status::Ok();
}

}  // namespace kelp::lab
