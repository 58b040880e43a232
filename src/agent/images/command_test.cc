// `kelp images ls` output (golden) and docker-style sizes.
#include "agent/images/command.h"

#include <gtest/gtest.h>

namespace kelp::images {
namespace {

TEST(ImagesCommandTest, HumanSizeLikeDocker) {
  EXPECT_EQ(HumanSize(0), "0B");
  EXPECT_EQ(HumanSize(999), "999B");
  EXPECT_EQ(HumanSize(1000), "1kB");
  EXPECT_EQ(HumanSize(13'300), "13.3kB");
  EXPECT_EQ(HumanSize(4'261'000), "4.26MB");
  EXPECT_EQ(HumanSize(187'000'000), "187MB");
  EXPECT_EQ(HumanSize(999'999), "1MB");
  EXPECT_EQ(HumanSize(2'500'000'000), "2.5GB");
}

TEST(ImagesCommandTest, ImageTableGolden) {
  const std::string a = "sha256:" + std::string(12, 'a') + std::string(52, '0');
  const std::string b = "sha256:" + std::string(12, 'b') + std::string(52, '0');
  const std::string c = "sha256:" + std::string(12, 'c') + std::string(52, '0');
  const std::string d = "sha256:" + std::string(12, 'd') + std::string(52, '0');
  std::vector<StoredImage> images = {
      {.id = a,
       .refs = {"docker.io/library/nginx:1.22", "docker.io/library/nginx:latest",
                "docker.io/library/nginx@sha256:" + std::string(64, 'f')},
       .size = 9'876'543},
      {.id = b, .refs = {"docker.io/library/busybox:1.35"}, .size = 2'167'000},
      {.id = c, .refs = {}, .size = 512},
      {.id = d, .refs = {"registry.local:5000/team/app@sha256:" + std::string(64, 'e')}, .size = 1},
  };
  EXPECT_EQ(FormatImageTable(images, false),
            "REPOSITORY                     TAG      IMAGE ID       SIZE\n"
            "<none>                         <none>   cccccccccccc   512B\n"
            "busybox                        1.35     bbbbbbbbbbbb   2.17MB\n"
            "nginx                          1.22     aaaaaaaaaaaa   9.88MB\n"
            "nginx                          latest   aaaaaaaaaaaa   9.88MB\n"
            "registry.local:5000/team/app   <none>   dddddddddddd   1B\n");
  EXPECT_EQ(FormatImageTable(images, true),
            "aaaaaaaaaaaa\nbbbbbbbbbbbb\ncccccccccccc\ndddddddddddd\n");
  EXPECT_EQ(FormatImageTable({}, false), "REPOSITORY   TAG   IMAGE ID   SIZE\n");
}

}  // namespace
}  // namespace kelp::images
