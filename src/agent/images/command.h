// `kelp images load|ls|rm`: the command-line face of the node's ImageStore, worded like
// `docker load` / `docker images` / `docker rmi` (and `crictl images`).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "agent/images/image_store.h"

namespace kelp::images {

struct ImagesCommandOptions {
  std::string data_dir = kDefaultAgentDataDir;  // the store is <data_dir>/images
  std::string input;                            // load: archive path; "" or "-": stdin
  std::string base_name;                        // load: repository for tag-only OCI names
  std::vector<std::string> refs;                // rm
  bool force = false;                           // rm
  bool quiet = false;                           // ls: ids only
};

int RunImagesLoad(const ImagesCommandOptions& options);
int RunImagesList(const ImagesCommandOptions& options);
int RunImagesRemove(const ImagesCommandOptions& options);
int RunImagesPrune(const ImagesCommandOptions& options);

// The `kelp images ls` table: REPOSITORY TAG IMAGE ID SIZE, one row per tag (an image without
// tags shows <none>), sorted by repository and tag; with `quiet` only the short ids, once each.
std::string FormatImageTable(const std::vector<StoredImage>& images, bool quiet);

// Sizes as docker prints them: decimal units, three significant digits ("4.26MB", "187kB").
std::string HumanSize(int64_t bytes);

}  // namespace kelp::images
