// The demo images end to end: tools/mkimage builds busybox and nginx from Debian packages,
// `kelp images load` stores them, and their overlay root filesystems work — busybox's shell
// answers under chroot, and nginx passes `nginx -t`, serves its page in a private network
// namespace (logs on a piped stdout and a file stderr), and serves an edited page after a
// shell inside the image changed it. Needs root. Mounts are undone by RAII; what runs inside
// the namespaces dies with their pid namespace.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <regex>

#include "agent/images/image_store.h"
#include "agent/images/overlay_mount.h"
#include "common/file.h"
#include "common/process.h"
#include "common/testing/temp_dir.h"

namespace kelp::e2e {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using ::testing::HasSubstr;

const fs::path kMkimage = fs::path(KELP_SOURCE_DIR) / "tools" / "mkimage";

class ImagesE2eTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_FALSE(temp_.path().empty()); }

  // Runs tools/mkimage and returns the "name:tag sha256:<id>" line it prints.
  std::string Mkimage(const std::string& image, const fs::path& out) {
    Result<ProcessResult> result =
        runner_.Run({.argv = {"bash", kMkimage.string(), image, out.string()}, .timeout = 300s});
    EXPECT_TRUE(result.ok()) << result.status().ToString();
    if (!result.ok()) return "";
    EXPECT_EQ(result->exit_code, 0) << result->stderr_data;
    std::string line = result->stdout_data;
    if (!line.empty() && line.back() == '\n') line.pop_back();
    return line;
  }

  ProcessResult Kelp(std::vector<std::string> args) {
    args.insert(args.begin(), KELP_BINARY);
    Result<ProcessResult> result = runner_.Run({.argv = args, .timeout = 300s});
    EXPECT_TRUE(result.ok()) << result.status().ToString();
    return result.ok() ? *result : ProcessResult{};
  }

  // An overlay of `image` at temp/<name>/rootfs, with its own upper and work directories.
  std::unique_ptr<images::ScopedOverlayMount> MountImage(images::ImageStore& store,
                                                         const std::string& ref,
                                                         const std::string& name) {
    Result<agent::ResolvedImage> resolved = store.Resolve(ref);
    EXPECT_TRUE(resolved.ok()) << resolved.status().ToString();
    if (!resolved.ok()) return nullptr;
    const fs::path dir = temp_.path() / name;
    for (const char* sub : {"upper", "work", "rootfs"}) fs::create_directories(dir / sub);
    auto mount = images::ScopedOverlayMount::Mount({.layers = resolved->layers,
                                                    .upper = dir / "upper",
                                                    .work = dir / "work",
                                                    .target = dir / "rootfs"});
    EXPECT_TRUE(mount.ok()) << mount.status().ToString();
    return mount.ok() ? std::move(*mount) : nullptr;
  }

  kelp::testing::ScopedTempDir temp_;
  SubprocessRunner runner_;
};

TEST_F(ImagesE2eTest, MkimageIsReproducible) {
  const std::string first = Mkimage("busybox", temp_.path() / "a.tar");
  const std::string second = Mkimage("busybox", temp_.path() / "b.tar");
  EXPECT_THAT(first, ::testing::MatchesRegex("busybox:1\\.35 sha256:[0-9a-f]{64}"));
  EXPECT_EQ(first, second);
  EXPECT_EQ(ReadFile(temp_.path() / "a.tar").value_or("a"),
            ReadFile(temp_.path() / "b.tar").value_or("b"));
}

TEST_F(ImagesE2eTest, DemoImagesLoadAndRun) {
  const std::string busybox = Mkimage("busybox", temp_.path() / "busybox.tar");
  const std::string nginx = Mkimage("nginx", temp_.path() / "nginx.tar");
  ASSERT_THAT(nginx, ::testing::MatchesRegex("nginx:1\\.22 sha256:[0-9a-f]{64}"));
  const std::string data_dir = (temp_.path() / "agent").string();

  for (const char* archive : {"busybox.tar", "nginx.tar"}) {
    ProcessResult load =
        Kelp({"images", "load", "-i", (temp_.path() / archive).string(), "--data-dir", data_dir});
    ASSERT_EQ(load.exit_code, 0) << load.stderr_data;
  }
  ProcessResult reload =
      Kelp({"images", "load", "-i", (temp_.path() / "nginx.tar").string(), "--data-dir", data_dir});
  EXPECT_EQ(reload.stdout_data, "Loaded image: nginx:1.22\n");
  ProcessResult ls = Kelp({"images", "ls", "--data-dir", data_dir});
  ASSERT_EQ(ls.exit_code, 0) << ls.stderr_data;
  const std::string nginx_id = nginx.substr(nginx.find("sha256:") + 7, 12);
  const std::string busybox_id = busybox.substr(busybox.find("sha256:") + 7, 12);
  EXPECT_THAT(ls.stdout_data, ::testing::StartsWith("REPOSITORY   TAG    IMAGE ID       SIZE\n"));
  EXPECT_THAT(ls.stdout_data,
              ::testing::ContainsRegex("busybox +1\\.35 +" + busybox_id + " +[0-9.]+MB"));
  EXPECT_THAT(ls.stdout_data,
              ::testing::ContainsRegex("nginx +1\\.22 +" + nginx_id + " +[0-9.]+MB"));

  auto store = images::ImageStore::Open(fs::path(data_dir) / "images");
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  Result<agent::ResolvedImage> nginx_image = (*store)->Resolve("nginx:1.22");
  Result<agent::ResolvedImage> busybox_image = (*store)->Resolve("docker.io/library/busybox:1.35");
  ASSERT_TRUE(nginx_image.ok() && busybox_image.ok());
  EXPECT_EQ(nginx_image->layers.front(), busybox_image->layers.front());  // one shared base layer
  EXPECT_THAT(nginx_image->config.cmd, ::testing::ElementsAre("nginx", "-g", "daemon off;"));

  // busybox: a shell under chroot of its root filesystem.
  {
    auto rootfs = MountImage(**store, "busybox:1.35", "busybox");
    ASSERT_NE(rootfs, nullptr);
    Result<ProcessResult> echo = runner_.Run(
        {.argv = {"chroot", rootfs->target().string(), "sh", "-c", "echo ok"}, .timeout = 60s});
    ASSERT_TRUE(echo.ok());
    EXPECT_EQ(echo->stdout_data, "ok\n") << echo->stderr_data;
    // In use while mounted: rm refuses without --force.
    ProcessResult refused = Kelp({"images", "rm", "busybox:1.35", "--data-dir", data_dir});
    EXPECT_EQ(refused.exit_code, 1);
    EXPECT_THAT(refused.stderr_data, HasSubstr("in use"));
  }

  // nginx: config test, then serve in a private network namespace.
  auto rootfs = MountImage(**store, "nginx:1.22", "nginx");
  ASSERT_NE(rootfs, nullptr);
  const fs::path root = rootfs->target();
  EXPECT_TRUE(fs::exists(root / "usr/sbin/nginx"));
  EXPECT_THAT(ReadFile(root / "usr/share/nginx/html/index.html").value_or(""),
              HasSubstr("Welcome to nginx!"));
  const fs::path out_log = temp_.path() / "nginx.stdout";
  const fs::path err_log = temp_.path() / "nginx.stderr";
  const std::string script = "set -u\nR=" + root.string() + "\nOUT=" + out_log.string() +
                             "\nERR=" + err_log.string() + R"SH(
mount -t proc proc "$R/proc" && mount --rbind /dev "$R/dev" || exit 10
ip link set lo up || exit 11
echo "NGINX-T:"; chroot "$R" nginx -t 2>&1; echo "NGINX-T-EXIT: $?"
chroot "$R" nginx -g 'daemon off;' 2>"$ERR" | cat >"$OUT" &
fetch() { chroot "$R" wget -q -O - http://127.0.0.1:80/; }
i=0; until fetch >/dev/null 2>&1; do i=$((i+1)); [ $i -lt 600 ] || { echo "nginx never answered"; exit 12; }; sleep 0.1; done
echo "PAGE1:"; fetch
chroot "$R" sh -c 'echo "<h1>edited inside the image</h1>" > /usr/share/nginx/html/index.html'
echo "PAGE2:"; fetch
kill -QUIT "$(cat "$R/run/nginx.pid")"
wait
echo "DONE"
)SH";
  Result<ProcessResult> served =
      runner_.Run({.argv = {"unshare", "--net", "--mount", "--pid", "--fork", "--kill-child", "sh",
                            "-c", script},
                   .timeout = 180s});
  ASSERT_TRUE(served.ok()) << served.status().ToString();
  const std::string& out = served->stdout_data;
  EXPECT_EQ(served->exit_code, 0) << out << served->stderr_data;
  EXPECT_THAT(out, HasSubstr("test is successful"));
  EXPECT_THAT(out, HasSubstr("NGINX-T-EXIT: 0"));
  ASSERT_THAT(out, HasSubstr("PAGE1:"));
  EXPECT_THAT(out.substr(out.find("PAGE1:"), out.find("PAGE2:") - out.find("PAGE1:")),
              HasSubstr("<h1>Welcome to nginx!</h1>"));
  EXPECT_THAT(out.substr(out.find("PAGE2:")), HasSubstr("<h1>edited inside the image</h1>"));
  EXPECT_THAT(out, HasSubstr("DONE"));
  // Access log through the /dev/stdout symlink into a pipe, error log into a file.
  const std::string access = ReadFile(out_log).value_or("");
  EXPECT_THAT(access,
              ::testing::ContainsRegex("127\\.0\\.0\\.1 - - \\[.*\\] \"GET / HTTP/1\\.1\" 200 "));
  EXPECT_THAT(ReadFile(err_log).value_or(""), HasSubstr("start worker process"));
  // The shared layers are untouched: the edit lives in this container's upper directory.
  EXPECT_THAT(ReadFile(nginx_image->layers.back() / "usr/share/nginx/html/index.html").value_or(""),
              HasSubstr("Welcome to nginx!"));
  rootfs.reset();

  // Unmounted, busybox goes; the base layer it shares with nginx stays.
  ProcessResult rm = Kelp({"images", "rm", "busybox:1.35", "--data-dir", data_dir});
  EXPECT_EQ(rm.exit_code, 0) << rm.stderr_data;
  EXPECT_THAT(rm.stdout_data, HasSubstr("Untagged: busybox:1.35\nDeleted: sha256:"));
  EXPECT_TRUE(fs::exists(nginx_image->layers.front() / "bin/busybox"));
  EXPECT_TRUE((*store)->Resolve("nginx:1.22").ok());
}

}  // namespace
}  // namespace kelp::e2e
