#include <gtest/gtest.h>

#include <sys/stat.h>

#include <filesystem>
#include <stdexcept>

#include "cook/io/atomic_file.h"
#include "io_test_util.h"

using namespace cook::io;
using cook::io::testing::expect_error;
using cook::io::testing::read_bytes;
using cook::io::testing::TempDir;
using cook::io::testing::write_bytes;

namespace {
size_t entries(const std::string& dir) {
  size_t n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir)) ++n;
  return n;
}
}  // namespace

TEST(AtomicFile, WritesNewFile) {
  TempDir dir;
  std::string path = dir.file("a.txt");
  write_file_atomic(path, "hello");
  EXPECT_EQ(read_bytes(path), "hello");
  EXPECT_EQ(entries(dir.path()), 1u);
}

TEST(AtomicFile, ReplacesExistingFileAndKeepsUmaskPermissions) {
  TempDir dir;
  std::string path = dir.file("a.txt");
  write_bytes(path, "old contents");
  write_file_atomic(path, "new");
  EXPECT_EQ(read_bytes(path), "new");
  struct stat st {};
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  mode_t mask = umask(0);
  umask(mask);
  EXPECT_EQ(st.st_mode & 0777, 0666 & ~mask);
}

TEST(AtomicFile, LargeAndSmallWritesInterleave) {
  TempDir dir;
  std::string path = dir.file("big.bin");
  std::string expected;
  {
    AtomicFile f(path);
    for (int i = 0; i < 50; ++i) {
      std::string chunk(static_cast<size_t>(i % 7 == 0 ? (3 << 20) : 1000 + i), static_cast<char>('a' + i % 26));
      f.write(chunk);
      expected += chunk;
    }
    EXPECT_EQ(f.bytes_written(), expected.size());
    EXPECT_FALSE(std::filesystem::exists(path));  // nothing under the real name before commit
    EXPECT_TRUE(std::filesystem::exists(f.temp_path()));
    EXPECT_EQ(parent_folder(f.temp_path()), dir.path());
    f.commit();
    EXPECT_FALSE(std::filesystem::exists(f.temp_path()));
  }
  EXPECT_EQ(read_bytes(path), expected);
}

TEST(AtomicFile, WithoutCommitTheTargetIsUntouched) {
  TempDir dir;
  std::string path = dir.file("keep.txt");
  write_bytes(path, "original");
  {
    AtomicFile f(path);
    f.write("partial");
  }
  EXPECT_EQ(read_bytes(path), "original");
  EXPECT_EQ(entries(dir.path()), 1u);
}

TEST(AtomicFile, WriterThatThrowsLeavesTargetAndNoTemporary) {
  TempDir dir;
  std::string path = dir.file("keep.txt");
  write_bytes(path, "original");
  expect_error(
      [&] {
        write_file_atomic(path, [](AtomicFile& f) {
          f.write("half of it");
          throw std::runtime_error("producer broke");
        });
      },
      {path, "producer broke"});
  EXPECT_EQ(read_bytes(path), "original");
  EXPECT_EQ(entries(dir.path()), 1u);
}

TEST(AtomicFile, ErrorsNameThePath) {
  TempDir dir;
  std::string missing = dir.file("no/such/folder/x.bin");
  expect_error([&] { write_file_atomic(missing, "x"); }, {missing, "temporary"});
  expect_error([&] { write_file_atomic(dir.path(), "x"); }, {dir.path(), "folder"});
  std::string path = dir.file("x.bin");
  AtomicFile f(path);
  f.commit();
  expect_error([&] { f.write("more"); }, {path, "after commit"});
  expect_error([] { fsync_directory("/no/such/folder"); }, {"/no/such/folder"});
}

TEST(AtomicFile, ParentFolder) {
  EXPECT_EQ(parent_folder("a/b/c.txt"), "a/b");
  EXPECT_EQ(parent_folder("c.txt"), ".");
  EXPECT_EQ(parent_folder("/c.txt"), "/");
}

TEST(AtomicFile, RelativePathInCurrentFolder) {
  TempDir dir;
  auto old = std::filesystem::current_path();
  std::filesystem::current_path(dir.path());
  write_file_atomic("rel.txt", "r");
  std::filesystem::current_path(old);
  EXPECT_EQ(read_bytes(dir.file("rel.txt")), "r");
}
