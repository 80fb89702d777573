#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>

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

// Opening a FIFO blocks until a writer comes, for ever if none does: refused at once instead. The
// check runs in a child with an alarm, so that a regression fails the test rather than hang it.
TEST(MappedFile, RefusesAFifoWithoutWaitingForAWriter) {
  TempDir dir;
  const std::string fifo = dir.file("pipe");
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        alarm(10);
        try {
          MappedFile::open(fifo);
        } catch (const cook::Error& e) {
          std::fprintf(stderr, "%s\n", e.what());
          std::_Exit(3);
        }
        std::_Exit(0);
      },
      ::testing::ExitedWithCode(3), "pipe: is a FIFO \\(named pipe\\), not a regular file");
}

// A file that shrinks while mapped (a `cp` over a checkpoint being read) raises SIGBUS on the lost
// pages: the process ends with exit code 1 and an error naming the file, not a bare "Bus error".
TEST(MappedFile, ShrinkingWhileMappedEndsWithAnErrorNamingTheFile) {
  TempDir dir;
  const std::string path = dir.file("shrinks.bin");
  write_bytes(path, std::string(3 * 4096, 'x'));
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        auto m = MappedFile::open(path);
        std::filesystem::resize_file(path, 0);
        volatile uint8_t sink = m->data()[2 * 4096 + 10];
        (void)sink;
        std::_Exit(0);
      },
      ::testing::ExitedWithCode(1), "shrinks.bin: the file shrank or was overwritten while it was being read");
}
