// A fresh folder for one test under the system's temporary directory ($TMPDIR or /tmp), removed
// with everything in it when the TempDir goes out of scope.
#pragma once
#include <stdlib.h>

#include <filesystem>
#include <stdexcept>
#include <string>
#include <system_error>

namespace cook::test {

class TempDir {
 public:
  // `prefix` names the folder (prefix-XXXXXX), so that a leftover one says which test made it.
  explicit TempDir(const std::string& prefix = "cook-test") {
    std::string pattern = (std::filesystem::temp_directory_path() / (prefix + "-XXXXXX")).string();
    if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed for " + pattern);
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  // The path of `name` inside the folder.
  std::string file(const std::string& name) const { return (std::filesystem::path(path_) / name).string(); }
  std::string operator/(const std::string& name) const { return file(name); }

 private:
  std::string path_;
};

}  // namespace cook::test
