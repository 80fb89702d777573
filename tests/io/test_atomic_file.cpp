#include <gtest/gtest.h>

#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

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

// A file is written beside its target and renamed over it, which would delete a node that is not
// a regular file: those are refused and left as they were.
TEST(AtomicFile, RefusesToReplaceAFifo) {
  TempDir dir;
  const std::string fifo = dir.file("pipe");
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  expect_error([&] { write_file_atomic(fifo, "x"); }, {fifo, "FIFO", "will not replace it"});
  struct stat st {};
  ASSERT_EQ(lstat(fifo.c_str(), &st), 0);
  EXPECT_TRUE(S_ISFIFO(st.st_mode));
  EXPECT_EQ(entries(dir.path()), 1u);  // no temporary file left either
}

TEST(AtomicFile, RefusesToReplaceADeviceNode) {
  TempDir dir;
  const std::string node = dir.file("null");
  // The same device as /dev/null, made here so that a failure cannot destroy the real one.
  if (mknod(node.c_str(), S_IFCHR | 0600, makedev(1, 3)) != 0) GTEST_SKIP() << "mknod needs root here";
  expect_error([&] { write_file_atomic(node, "x"); }, {node, "character device"});
  struct stat st {};
  ASSERT_EQ(lstat(node.c_str(), &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode));
}

TEST(AtomicFile, WritesThroughASymlinkAndKeepsIt) {
  TempDir dir;
  const std::string target = dir.file("real.txt"), link = dir.file("link.txt");
  write_bytes(target, "old");
  std::filesystem::create_symlink(target, link);
  write_file_atomic(link, "new");
  EXPECT_TRUE(std::filesystem::is_symlink(link));
  EXPECT_EQ(read_bytes(target), "new");
  EXPECT_EQ(read_bytes(link), "new");
}

TEST(AtomicFile, RefusesADanglingSymlinkAndALinkToAFifo) {
  TempDir dir;
  const std::string dangling = dir.file("dangling");
  std::filesystem::create_symlink(dir.file("nowhere/x"), dangling);
  expect_error([&] { write_file_atomic(dangling, "x"); }, {dangling, "symbolic link"});
  EXPECT_TRUE(std::filesystem::is_symlink(dangling));
  const std::string fifo = dir.file("pipe"), link = dir.file("to-pipe");
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  std::filesystem::create_symlink(fifo, link);
  expect_error([&] { write_file_atomic(link, "x"); }, {link, "FIFO"});
  EXPECT_TRUE(std::filesystem::is_symlink(link));
}

// A writer killed mid-write leaves its temporary file; the next commit of the same target removes
// it (its pid no longer runs), and leaves a live writer's alone.
TEST(AtomicFile, CommitRemovesTheTemporariesOfDeadWriters) {
  TempDir dir;
  const std::string dead = dir.file(".a.txt.tmp-999999999-0");  // above any pid_max
  const std::string live = dir.file(".a.txt.tmp-" + std::to_string(getppid()) + "-0");
  const std::string other = dir.file(".b.txt.tmp-999999999-0");
  for (const auto& p : {dead, live, other}) write_bytes(p, "partial");
  write_file_atomic(dir.file("a.txt"), "done");
  EXPECT_FALSE(std::filesystem::exists(dead));
  EXPECT_TRUE(std::filesystem::exists(live));
  EXPECT_TRUE(std::filesystem::exists(other));
}
