// User resolution: image USER forms, runAsUser/runAsGroup, supplementary groups, runAsNonRoot,
// and lookups that stay inside the rootfs.
#include "agent/runtime/user.h"

#include <fstream>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/testing/temp_dir.h"

namespace kelp::agent {
namespace {

using ::testing::ElementsAre;

constexpr char kPasswd[] =
    "root:x:0:0:root:/root:/bin/sh\n"
    "# comment\n"
    "nginx:x:101:102:nginx:/var/cache/nginx:/sbin/nologin\n"
    "broken line\n"
    "app:x:1000:1000::/home/app:/bin/sh\r\n";
constexpr char kGroup[] =
    "root:x:0:\n"
    "nginx:x:102:\n"
    "www:x:33:nginx,app\n"
    "app:x:1000:\n";

Result<ResolvedUser> Resolve(std::string_view image_user, SecurityContext security = {}) {
  return ResolveUser(image_user, security, ParsePasswd(kPasswd), ParseGroup(kGroup));
}

TEST(UserTest, ParsesFilesSkippingMalformedLines) {
  std::vector<PasswdEntry> passwd = ParsePasswd(kPasswd);
  ASSERT_EQ(passwd.size(), 3u);
  EXPECT_EQ(passwd[2].name, "app");
  EXPECT_EQ(passwd[2].home, "/home/app");
  std::vector<GroupEntry> groups = ParseGroup(kGroup);
  ASSERT_EQ(groups.size(), 4u);
  EXPECT_THAT(groups[2].members, ElementsAre("nginx", "app"));
}

TEST(UserTest, ImageUserForms) {
  Result<ResolvedUser> root = Resolve("");
  ASSERT_TRUE(root.ok());
  EXPECT_EQ(root->uid, 0u);
  EXPECT_THAT(root->additional_gids, ElementsAre(0u));

  Result<ResolvedUser> nginx = Resolve("nginx");
  ASSERT_TRUE(nginx.ok());
  EXPECT_EQ(nginx->uid, 101u);
  EXPECT_EQ(nginx->gid, 102u);
  EXPECT_THAT(nginx->additional_gids, ElementsAre(102u, 33u));

  Result<ResolvedUser> numeric = Resolve("1000");
  ASSERT_TRUE(numeric.ok());
  EXPECT_EQ(numeric->gid, 1000u);  // from the passwd entry of uid 1000

  Result<ResolvedUser> unknown_uid = Resolve("4242");
  ASSERT_TRUE(unknown_uid.ok());
  EXPECT_EQ(unknown_uid->uid, 4242u);
  EXPECT_EQ(unknown_uid->gid, 0u);

  Result<ResolvedUser> pair = Resolve("nginx:www");
  ASSERT_TRUE(pair.ok());
  EXPECT_EQ(pair->gid, 33u);
  Result<ResolvedUser> numeric_pair = Resolve("5:6");
  ASSERT_TRUE(numeric_pair.ok());
  EXPECT_EQ(numeric_pair->uid, 5u);
  EXPECT_EQ(numeric_pair->gid, 6u);

  EXPECT_EQ(Resolve("nobody").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Resolve("nginx:nogroup").status().code(), StatusCode::kInvalidArgument);
}

TEST(UserTest, SecurityContextWins) {
  Result<ResolvedUser> user =
      Resolve("nginx", {.run_as_user = 1000, .run_as_group = 7, .supplemental_groups = {9, 7}});
  ASSERT_TRUE(user.ok());
  EXPECT_EQ(user->uid, 1000u);
  EXPECT_EQ(user->gid, 7u);
  EXPECT_THAT(user->additional_gids, ElementsAre(7u, 33u, 9u));
  EXPECT_EQ(Resolve("", {.run_as_non_root = true}).status().code(),
            StatusCode::kPermissionDenied);
  EXPECT_TRUE(Resolve("nginx", {.run_as_non_root = true}).ok());
  EXPECT_EQ(Resolve("", {.run_as_user = -1}).status().code(), StatusCode::kInvalidArgument);
}

TEST(UserTest, LookupsStayInsideTheRootfs) {
  testing::ScopedTempDir tmp;
  ASSERT_FALSE(tmp.path().empty());
  std::filesystem::create_directories(tmp.path() / "rootfs/etc");
  std::filesystem::create_directories(tmp.path() / "outside");
  std::ofstream(tmp.path() / "outside/passwd") << "evil:x:0:0::/:/bin/sh\n";
  std::ofstream(tmp.path() / "rootfs/etc/group") << kGroup;
  // An absolute symlink is resolved against the rootfs, not the node.
  std::filesystem::create_symlink(tmp.path() / "outside/passwd", tmp.path() / "rootfs/etc/passwd");
  EXPECT_EQ(ReadFileInRoot(tmp.path() / "rootfs", "etc/passwd").status().code(),
            StatusCode::kNotFound);
  EXPECT_EQ(ResolveUserInRootfs(tmp.path() / "rootfs", "evil", {}).status().code(),
            StatusCode::kInvalidArgument);
  std::filesystem::remove(tmp.path() / "rootfs/etc/passwd");
  std::ofstream(tmp.path() / "rootfs/etc/passwd") << kPasswd;
  Result<ResolvedUser> user = ResolveUserInRootfs(tmp.path() / "rootfs", "app", {});
  ASSERT_TRUE(user.ok()) << user.status().ToString();
  EXPECT_EQ(user->uid, 1000u);
  EXPECT_THAT(user->additional_gids, ElementsAre(1000u, 33u));
}

}  // namespace
}  // namespace kelp::agent
