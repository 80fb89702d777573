// One run per output folder: a second holder of a folder's lock is refused with the folder and the
// holder named, and the lock goes with its holder however the holder ends (kill -9 included).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "../common/expect_error.h"
#include "../common/temp_dir.h"
#include "cook/core/folder_lock.h"

using cook::FolderLock;

TEST(FolderLock, ASecondHolderIsRefusedUntilTheFirstLetsGo) {
  cook::test::TempDir dir("cook-lock");
  const std::string folder = dir / "run";
  {
    FolderLock first(folder);
    EXPECT_TRUE(first.held());
    cook::test::expect_error([&] { FolderLock second(folder); },
                             {folder, "is in use by another run", "pid " + std::to_string(::getpid())});
  }
  FolderLock again(folder);
  EXPECT_TRUE(again.held());
}

TEST(FolderLock, AKilledHolderLeavesNoStaleLock) {
  cook::test::TempDir dir("cook-lock");
  const std::string folder = dir / "run";
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    FolderLock held(folder);
    (void)!write(ready[1], "1", 1);
    pause();
    _exit(0);
  }
  char byte = 0;
  ASSERT_EQ(read(ready[0], &byte, 1), 1);
  cook::test::expect_error([&] { FolderLock refused(folder); }, {"pid " + std::to_string(child)});
  kill(child, SIGKILL);
  int status = 0;
  waitpid(child, &status, 0);
  FolderLock after(folder);
  EXPECT_TRUE(after.held());
  close(ready[0]);
  close(ready[1]);
}
