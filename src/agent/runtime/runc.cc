// Runc: argv building, output parsing and error mapping for one-shot runc commands.
#include "agent/runtime/runc.h"

#include <fmt/format.h>

#include <boost/json.hpp>
#include <csignal>

#include "common/json.h"

namespace kelp::agent {
namespace {

namespace json = boost::json;

bool SaysMissing(const std::string& output) {
  return output.find("does not exist") != std::string::npos ||
         output.find("not exist") != std::string::npos;
}

std::string Trim(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

Result<RuncState> StateFromObject(const json::object& o) {
  RuncState state;
  KELP_ASSIGN_OR_RETURN(state.id, GetString(o, "id"));
  KELP_ASSIGN_OR_RETURN(std::optional<std::int64_t> pid, FindInt64(o, "pid"));
  state.pid = static_cast<int>(pid.value_or(0));
  KELP_ASSIGN_OR_RETURN(state.status, GetString(o, "status"));
  KELP_ASSIGN_OR_RETURN(std::optional<std::string> bundle, FindString(o, "bundle"));
  state.bundle = bundle.value_or("");
  return state;
}

}  // namespace

Result<std::vector<RuncState>> ParseRuncList(std::string_view text) {
  KELP_ASSIGN_OR_RETURN(json::value doc, ParseJson(text));
  std::vector<RuncState> states;
  if (doc.is_null()) return states;
  if (!doc.is_array()) return InvalidArgumentError("runc list: expected an array");
  for (const json::value& item : doc.as_array()) {
    if (!item.is_object()) return InvalidArgumentError("runc list: expected objects");
    KELP_ASSIGN_OR_RETURN(RuncState state, StateFromObject(item.as_object()));
    states.push_back(std::move(state));
  }
  return states;
}

Result<RuncState> ParseRuncState(std::string_view text) {
  KELP_ASSIGN_OR_RETURN(json::object doc, ParseJsonObject(text));
  return StateFromObject(doc);
}

Result<ProcessResult> Runc::Run(std::vector<std::string> args) {
  ProcessRequest request{.argv = BaseArgv(), .timeout = timeout_};
  request.argv.insert(request.argv.end(), args.begin(), args.end());
  KELP_ASSIGN_OR_RETURN(ProcessResult result, runner_.Run(request));
  if (result.timed_out) {
    return DeadlineExceededError(fmt::format("runc {} timed out", args[0]));
  }
  return result;
}

Result<std::vector<RuncState>> Runc::List() {
  KELP_ASSIGN_OR_RETURN(ProcessResult r, Run({"list", "--format", "json"}));
  if (r.exit_code != 0) return InternalError("runc list: " + Trim(r.stderr_data));
  return ParseRuncList(r.stdout_data.empty() ? "null" : r.stdout_data);
}

Result<RuncState> Runc::State(const std::string& id) {
  KELP_ASSIGN_OR_RETURN(ProcessResult r, Run({"state", id}));
  if (r.exit_code != 0) {
    if (SaysMissing(r.stderr_data)) return NotFoundError("runc: container " + id + " not found");
    return InternalError("runc state " + id + ": " + Trim(r.stderr_data));
  }
  return ParseRuncState(r.stdout_data);
}

Status Runc::Start(const std::string& id) {
  KELP_ASSIGN_OR_RETURN(ProcessResult r, Run({"start", id}));
  if (r.exit_code != 0) return InternalError("runc start " + id + ": " + Trim(r.stderr_data));
  return Status::Ok();
}

Status Runc::Kill(const std::string& id, int signal) {
  KELP_ASSIGN_OR_RETURN(ProcessResult r, Run({"kill", id, std::to_string(signal)}));
  if (r.exit_code != 0) {
    if (SaysMissing(r.stderr_data) || r.stderr_data.find("not running") != std::string::npos ||
        r.stderr_data.find("process already finished") != std::string::npos) {
      return NotFoundError("runc kill " + id + ": " + Trim(r.stderr_data));
    }
    return InternalError("runc kill " + id + ": " + Trim(r.stderr_data));
  }
  return Status::Ok();
}

Status Runc::Delete(const std::string& id, bool force) {
  std::vector<std::string> args = {"delete"};
  if (force) args.push_back("--force");
  args.push_back(id);
  KELP_ASSIGN_OR_RETURN(ProcessResult r, Run(args));
  if (r.exit_code != 0 && !SaysMissing(r.stderr_data)) {
    return InternalError("runc delete " + id + ": " + Trim(r.stderr_data));
  }
  return Status::Ok();
}

}  // namespace kelp::agent
