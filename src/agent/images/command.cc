// The images subcommands: open the store under --data-dir, call it, print docker-like output.
#include "agent/images/command.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <set>
#include <tuple>

#include "agent/images/reference.h"

namespace kelp::images {
namespace {

constexpr char kNone[] = "<none>";

std::filesystem::path StoreRoot(const ImagesCommandOptions& options) {
  return std::filesystem::path(options.data_dir) / "images";
}

std::string ShortId(const std::string& id) {
  return id.substr(std::string_view("sha256:").size(), 12);
}

// "docker.io/library/nginx:1.22" → "nginx:1.22"; unparsable keys are shown as they are.
std::string Familiar(const std::string& key) {
  Result<Reference> ref = ParseRepository(key);
  return ref.ok() ? ref->FamiliarString() : key;
}

int Fail(std::string_view command, const Status& status) {
  std::fprintf(stderr, "kelp images %.*s: %s\n", static_cast<int>(command.size()), command.data(),
               status.message().c_str());
  return 1;
}

}  // namespace

std::string HumanSize(int64_t bytes) {
  static constexpr const char* kUnits[] = {"B", "kB", "MB", "GB", "TB", "PB"};
  double value = static_cast<double>(bytes);
  size_t unit = 0;
  while (unit + 1 < std::size(kUnits) && value >= 999.5) {
    value /= 1000;
    ++unit;
  }
  return fmt::format("{:.3g}{}", value, kUnits[unit]);
}

std::string FormatImageTable(const std::vector<StoredImage>& images, bool quiet) {
  if (quiet) {
    std::string out;
    for (const StoredImage& image : images) out += ShortId(image.id) + "\n";
    return out;
  }
  using Row = std::tuple<std::string, std::string, std::string, std::string>;
  std::vector<Row> rows;
  for (const StoredImage& image : images) {
    const std::string id = ShortId(image.id);
    const std::string size = HumanSize(image.size);
    std::set<std::string> digest_only;
    bool tagged = false;
    for (const std::string& key : image.refs) {
      Result<Reference> ref = ParseRepository(key);
      if (!ref.ok()) continue;
      if (!ref->tag.empty()) {
        rows.emplace_back(ref->FamiliarName(), ref->tag, id, size);
        tagged = true;
      } else {
        digest_only.insert(ref->FamiliarName());
      }
    }
    if (tagged) continue;
    for (const std::string& repository : digest_only)
      rows.emplace_back(repository, kNone, id, size);
    if (digest_only.empty()) rows.emplace_back(kNone, kNone, id, size);
  }
  std::sort(rows.begin(), rows.end());
  size_t widths[3] = {std::string_view("REPOSITORY").size(), std::string_view("TAG").size(),
                      std::string_view("IMAGE ID").size()};
  for (const Row& row : rows) {
    widths[0] = std::max(widths[0], std::get<0>(row).size());
    widths[1] = std::max(widths[1], std::get<1>(row).size());
    widths[2] = std::max(widths[2], std::get<2>(row).size());
  }
  auto line = [&](std::string_view a, std::string_view b, std::string_view c, std::string_view d) {
    return fmt::format("{:<{}}   {:<{}}   {:<{}}   {}\n", a, widths[0], b, widths[1], c, widths[2],
                       d);
  };
  std::string out = line("REPOSITORY", "TAG", "IMAGE ID", "SIZE");
  for (const auto& [repository, tag, id, size] : rows) out += line(repository, tag, id, size);
  return out;
}

int RunImagesLoad(const ImagesCommandOptions& options) {
  const std::string input = options.input.empty() ? "-" : options.input;
  if (input == "-" && ::isatty(STDIN_FILENO)) {
    return Fail("load",
                InvalidArgumentError(
                    "no archive: give -i FILE or pipe one in (kelp images load < FILE.tar)"));
  }
  auto store = ImageStore::Open(StoreRoot(options));
  if (!store.ok()) return Fail("load", store.status());
  Result<LoadResult> loaded = (*store)->LoadFile(input, {.base_name = options.base_name});
  if (!loaded.ok()) return Fail("load", loaded.status());
  for (const std::string& warning : loaded->warnings) {
    std::fprintf(stderr, "warning: %s\n", warning.c_str());
  }
  for (const LoadedImage& image : loaded->images) {
    if (image.names.empty()) std::printf("Loaded image ID: %s\n", image.id.c_str());
    for (const std::string& name : image.names) {
      std::printf("Loaded image: %s\n", Familiar(name).c_str());
    }
  }
  return 0;
}

int RunImagesList(const ImagesCommandOptions& options) {
  auto store = ImageStore::Open(StoreRoot(options));
  if (!store.ok()) return Fail("ls", store.status());
  Result<std::vector<StoredImage>> images = (*store)->List();
  if (!images.ok()) return Fail("ls", images.status());
  std::fputs(FormatImageTable(*images, options.quiet).c_str(), stdout);
  return 0;
}

int RunImagesRemove(const ImagesCommandOptions& options) {
  if (options.refs.empty()) return Fail("rm", InvalidArgumentError("give at least one image"));
  auto store = ImageStore::Open(StoreRoot(options));
  if (!store.ok()) return Fail("rm", store.status());
  int rc = 0;
  for (const std::string& ref : options.refs) {
    Result<RemoveResult> removed = (*store)->Remove(ref, options.force);
    if (!removed.ok()) {
      rc = Fail("rm", removed.status());
      continue;
    }
    for (const std::string& key : removed->untagged)
      std::printf("Untagged: %s\n", Familiar(key).c_str());
    for (const std::string& id : removed->deleted) std::printf("Deleted: %s\n", id.c_str());
  }
  return rc;
}

int RunImagesPrune(const ImagesCommandOptions& options) {
  auto store = ImageStore::Open(StoreRoot(options));
  if (!store.ok()) return Fail("prune", store.status());
  GcResult gc;
  Result<std::vector<std::string>> deleted = (*store)->Prune(&gc);
  if (!deleted.ok()) return Fail("prune", deleted.status());
  for (const std::string& id : *deleted) std::printf("Deleted: %s\n", id.c_str());
  std::printf("Removed %d layers and %d blobs", gc.layers_removed, gc.blobs_removed);
  if (gc.layers_in_use > 0)
    std::printf("; kept %d unreferenced layers still mounted", gc.layers_in_use);
  std::printf("\n");
  return 0;
}

}  // namespace kelp::images
