#include <gtest/gtest.h>

#include <cstring>

#include "cook/io/mapped_file.h"
#include "io_test_util.h"

using namespace cook::io;
using cook::io::testing::expect_error;
using cook::io::testing::TempDir;
using cook::io::testing::write_bytes;

TEST(MappedFile, MapsBytesAndOutlivesTheOpener) {
  TempDir dir;
  std::string path = dir.file("m.bin");
  std::string bytes(3 * 4096 + 17, '\0');
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>(i * 31);
  write_bytes(path, bytes);
  std::shared_ptr<const MappedFile> keep;
  {
    auto m = MappedFile::open(path);
    EXPECT_EQ(m->path(), path);
    ASSERT_EQ(m->size(), bytes.size());
    EXPECT_EQ(std::memcmp(m->data(), bytes.data(), bytes.size()), 0);
    keep = m;
  }
  // The file can go; the mapping stays valid while someone holds it.
  std::filesystem::remove(path);
  EXPECT_EQ(std::memcmp(keep->data(), bytes.data(), bytes.size()), 0);
}

TEST(MappedFile, ContainsChecksBounds) {
  TempDir dir;
  std::string path = dir.file("m.bin");
  write_bytes(path, std::string(100, 'x'));
  auto m = MappedFile::open(path);
  EXPECT_TRUE(m->contains(m->data(), 100));
  EXPECT_TRUE(m->contains(m->data() + 50, 50));
  EXPECT_FALSE(m->contains(m->data() + 50, 51));
  EXPECT_TRUE(m->contains(m->data() + 100, 0));
  int local = 0;
  EXPECT_FALSE(m->contains(&local, sizeof local));
}

TEST(MappedFile, ReleaseKeepsBytesReadable) {
  TempDir dir;
  std::string path = dir.file("m.bin");
  std::string bytes(64 * 4096, '\0');
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>(i % 251);
  write_bytes(path, bytes);
  auto m = MappedFile::open(path);
  m->advise_sequential();
  m->prefetch(m->data() + 100, 8000);
  EXPECT_EQ(std::memcmp(m->data(), bytes.data(), bytes.size()), 0);
  m->release(m->data() + 10, bytes.size() - 20);
  m->release(m->data(), 1);  // less than a page: nothing to drop, no harm
  EXPECT_EQ(std::memcmp(m->data(), bytes.data(), bytes.size()), 0);
}

TEST(MappedFile, EmptyFile) {
  TempDir dir;
  std::string path = dir.file("empty.bin");
  write_bytes(path, "");
  auto m = MappedFile::open(path);
  EXPECT_EQ(m->size(), 0u);
  EXPECT_EQ(m->data(), nullptr);
}

TEST(MappedFile, ErrorsNameThePath) {
  TempDir dir;
  expect_error([&] { MappedFile::open(dir.file("nope")); }, {dir.file("nope"), "cannot open"});
  expect_error([&] { MappedFile::open(dir.path()); }, {dir.path(), "folder"});
}
